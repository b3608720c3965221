#include "edgeloop/model/artifact.h"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "edgeloop/base/file.h"
#include "edgeloop/model/half.h"
#include "edgeloop/model/schema/edge_generated.h"
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {
namespace {

namespace fbs = edgeloop::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// ---------------------------------------------------------------- writing

Offset<fbs::Quant> write_quant(FlatBufferBuilder& b, const QuantParams& q) {
  if (q.empty()) return 0;
  if (q.scale_dtype == DType::kF16) {
    std::vector<uint16_t> half(q.scales.size());
    std::transform(q.scales.begin(), q.scales.end(), half.begin(), float_to_half);
    return fbs::CreateQuant(b, 0, b.CreateVector(q.zero_points), q.axis, q.block_axis, q.block_size,
                            b.CreateVector(half));
  }
  return fbs::CreateQuant(b, b.CreateVector(q.scales), b.CreateVector(q.zero_points), q.axis, q.block_axis,
                          q.block_size);
}

Offset<fbs::Attr> write_attr(FlatBufferBuilder& b, const std::string& name, const AttrValue& v) {
  auto n = b.CreateString(name);
  return std::visit(
      [&](const auto& x) -> Offset<fbs::Attr> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) return fbs::CreateAttr(b, n, fbs::AttrKind::Int, x);
        else if constexpr (std::is_same_v<T, float>) return fbs::CreateAttr(b, n, fbs::AttrKind::Float, 0, x);
        else if constexpr (std::is_same_v<T, std::string>)
          return fbs::CreateAttr(b, n, fbs::AttrKind::String, 0, 0, b.CreateString(x));
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
          return fbs::CreateAttr(b, n, fbs::AttrKind::Ints, 0, 0, 0, b.CreateVector(x));
        else return fbs::CreateAttr(b, n, fbs::AttrKind::Floats, 0, 0, 0, 0, b.CreateVector(x));
      },
      v);
}

Offset<fbs::TensorValue> write_value(FlatBufferBuilder& b, const TensorData& t) {
  return fbs::CreateTensorValue(b, b.CreateString(t.name), static_cast<uint8_t>(t.dtype), b.CreateVector(t.shape),
                                b.CreateVector(reinterpret_cast<const uint8_t*>(t.bytes.data()), t.bytes.size()));
}

Offset<fbs::Metadata> write_metadata(FlatBufferBuilder& b, const Metadata& m, const std::vector<std::string>& ops) {
  std::vector<Offset<fbs::IoSpec>> specs;
  for (const IoSpec& s : m.inputs)
    specs.push_back(fbs::CreateIoSpec(b, b.CreateString(s.name), b.CreateString(s.layout), s.scale,
                                      b.CreateVector(s.mean), b.CreateVector(s.std)));
  Offset<fbs::Golden> golden = 0;
  if (m.golden) {
    std::vector<Offset<fbs::TensorValue>> ins, outs;
    for (const auto& t : m.golden->inputs) ins.push_back(write_value(b, t));
    for (const auto& t : m.golden->outputs) outs.push_back(write_value(b, t));
    golden = fbs::CreateGolden(b, b.CreateVector(ins), b.CreateVector(outs), m.golden->rtol, m.golden->atol);
  }
  std::vector<Offset<fbs::Property>> props;
  for (const auto& [k, v] : m.properties) props.push_back(fbs::CreateProperty(b, b.CreateString(k), b.CreateString(v)));
  return fbs::CreateMetadata(b, b.CreateString(m.name), b.CreateString(m.version), b.CreateString(m.variant),
                             b.CreateString(m.producer), b.CreateVector(specs), b.CreateVectorOfStrings(m.labels),
                             b.CreateVectorOfStrings(ops), b.CreateString(m.min_runtime_version), golden,
                             b.CreateVector(props));
}

// ---------------------------------------------------------------- reading

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

template <class T, class U>
std::vector<T> vec(const flatbuffers::Vector<U>* v) {
  if (v == nullptr) return {};
  return std::vector<T>(v->begin(), v->end());
}

Result<DType> read_dtype(uint8_t raw, std::string_view what) {
  if (!is_valid_dtype(raw)) return make_error(ErrorCode::kCorrupt, "{} has unknown dtype code {}", what, raw);
  return static_cast<DType>(raw);
}

Result<Shape> read_shape(const flatbuffers::Vector<int64_t>* v, std::string_view what) {
  Shape s = vec<int64_t>(v);
  if (s.size() > 8) return make_error(ErrorCode::kUnsupported, "{} has rank {}, at most 8 is supported", what, s.size());
  if (num_elements(s) < 0) return make_error(ErrorCode::kCorrupt, "{} has an invalid shape {}", what, shape_str(s));
  return s;
}

Result<TensorData> read_value(const fbs::TensorValue* v) {
  TensorData t;
  t.name = str(v->name());
  EL_TRY(t.dtype, read_dtype(v->dtype(), "golden tensor '" + t.name + "'"));
  EL_TRY(t.shape, read_shape(v->shape(), "golden tensor '" + t.name + "'"));
  const size_t want = storage_bytes(t.dtype, t.elements());
  const size_t have = v->data() ? v->data()->size() : 0;
  if (want != have)
    return make_error(ErrorCode::kCorrupt, "golden tensor '{}' has {} bytes, its shape needs {}", t.name, have, want);
  if (have) t.bytes.assign(reinterpret_cast<const std::byte*>(v->data()->data()),
                           reinterpret_cast<const std::byte*>(v->data()->data()) + have);
  return t;
}

Result<Attributes> read_attrs(const flatbuffers::Vector<Offset<fbs::Attr>>* attrs, std::string_view node) {
  Attributes out;
  if (attrs == nullptr) return out;
  for (const fbs::Attr* a : *attrs) {
    std::string name = a->name()->str();
    if (out.has(name)) return make_error(ErrorCode::kCorrupt, "node '{}' has attribute '{}' twice", node, name);
    switch (a->kind()) {
      case fbs::AttrKind::Int: out.set(name, a->i()); break;
      case fbs::AttrKind::Float: out.set(name, a->f()); break;
      case fbs::AttrKind::String: out.set(name, str(a->s())); break;
      case fbs::AttrKind::Ints: out.set(name, vec<int64_t>(a->ints())); break;
      case fbs::AttrKind::Floats: out.set(name, vec<float>(a->floats())); break;
      default: return make_error(ErrorCode::kCorrupt, "node '{}' attribute '{}' has an unknown kind", node, name);
    }
  }
  return out;
}

Result<std::vector<TensorId>> read_ids(const flatbuffers::Vector<int32_t>* v, size_t tensor_count, bool allow_absent,
                                       std::string_view what) {
  std::vector<TensorId> ids = vec<TensorId>(v);
  for (TensorId id : ids) {
    if (id == kNoTensor && allow_absent) continue;
    if (id < 0 || static_cast<size_t>(id) >= tensor_count)
      return make_error(ErrorCode::kCorrupt, "{} refers to tensor {}, but there are {}", what, id, tensor_count);
  }
  return ids;
}

bool add_overflows(uint64_t a, uint64_t b) { return a > std::numeric_limits<uint64_t>::max() - b; }

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    size_t dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    return part;
  };
  while (!a.empty() || !b.empty()) {
    std::string_view pa = next(a), pb = next(b);
    auto numeric = [](std::string_view p) {
      return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    bool na = numeric(pa), nb = numeric(pb);
    if (na && nb) {
      pa.remove_prefix(std::min(pa.find_first_not_of('0'), pa.size()));
      pb.remove_prefix(std::min(pb.find_first_not_of('0'), pb.size()));
      if (pa.size() != pb.size()) return pa.size() < pb.size() ? -1 : 1;
    }
    if (int c = pa.compare(pb); c != 0) return c < 0 ? -1 : 1;
  }
  return 0;
}

Result<std::vector<std::byte>> serialize_artifact(const Graph& graph) {
  EL_CHECK(verify_graph(graph));
  // Weight layout: each constant gets a 64-byte aligned segment, in tensor order.
  std::vector<uint64_t> offsets(graph.tensors.size(), 0);
  uint64_t weights_size = 0;
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    if (!graph.tensors[i].constant) continue;
    offsets[i] = weights_size;
    weights_size = align_up(weights_size + graph.tensors[i].data.size(), kSegmentAlignment);
  }

  FlatBufferBuilder b(1 << 16);
  std::vector<Offset<fbs::Tensor>> tensors;
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const Tensor& t = graph.tensors[i];
    tensors.push_back(fbs::CreateTensor(b, b.CreateString(t.name), static_cast<uint8_t>(t.dtype), b.CreateVector(t.shape),
                                        write_quant(b, t.quant), t.constant, offsets[i],
                                        t.constant ? t.data.size() : 0));
  }
  std::vector<Offset<fbs::Node>> nodes;
  for (const Node& n : graph.nodes) {
    std::vector<Offset<fbs::Attr>> attrs;
    for (const auto& [name, value] : n.attrs.items()) attrs.push_back(write_attr(b, name, value));
    nodes.push_back(fbs::CreateNode(b, b.CreateString(op_name(n.op)), b.CreateString(n.name), b.CreateVector(n.inputs),
                                    b.CreateVector(n.outputs), b.CreateVector(attrs)));
  }
  auto meta = write_metadata(b, graph.meta, graph.ops_used());
  auto root = fbs::CreateModel(b, b.CreateVector(tensors), b.CreateVector(nodes), b.CreateVector(graph.inputs),
                               b.CreateVector(graph.outputs), meta);
  fbs::FinishModelBuffer(b, root);

  const uint64_t fb_offset = kArtifactHeaderSize;
  const uint64_t fb_size = b.GetSize();
  const uint64_t weights_offset = align_up(fb_offset + fb_size, kSegmentAlignment);
  const uint64_t file_size = weights_offset + weights_size;
  std::vector<std::byte> out(file_size, std::byte{0});
  std::memcpy(out.data(), kArtifactMagic, sizeof kArtifactMagic);
  store_le<uint32_t>(out.data() + 8, kArtifactFormatVersion);
  store_le<uint32_t>(out.data() + 12, kArtifactHeaderSize);
  store_le<uint64_t>(out.data() + 16, fb_offset);
  store_le<uint64_t>(out.data() + 24, fb_size);
  store_le<uint64_t>(out.data() + 32, weights_offset);
  store_le<uint64_t>(out.data() + 40, weights_size);
  store_le<uint64_t>(out.data() + 48, file_size);
  std::memcpy(out.data() + fb_offset, b.GetBufferPointer(), fb_size);
  for (size_t i = 0; i < graph.tensors.size(); ++i)
    if (graph.tensors[i].constant && !graph.tensors[i].data.empty())
      std::memcpy(out.data() + weights_offset + offsets[i], graph.tensors[i].data.data(), graph.tensors[i].data.size());
  return out;
}

Status write_artifact(const Graph& graph, const std::filesystem::path& path) {
  EL_TRY(auto bytes, serialize_artifact(graph));
  return write_file_durable(path, bytes);
}

Result<ArtifactLayout> read_layout(ByteSpan file) {
  if (file.size() < kArtifactHeaderSize)
    return make_error(ErrorCode::kCorrupt, "{} bytes is too short for an .edge artifact (header is {} bytes)", file.size(),
                      kArtifactHeaderSize);
  if (std::memcmp(file.data(), kArtifactMagic, sizeof kArtifactMagic) != 0)
    return make_error(ErrorCode::kCorrupt, "not an .edge artifact (bad magic); import ONNX models with `edgeloop model import`");
  ArtifactLayout l;
  l.format_version = load_le<uint32_t>(file.data() + 8);
  if (l.format_version != kArtifactFormatVersion)
    return make_error(ErrorCode::kUnsupported, "artifact format version {}, this runtime reads version {}", l.format_version,
                      kArtifactFormatVersion);
  if (load_le<uint32_t>(file.data() + 12) != kArtifactHeaderSize)
    return make_error(ErrorCode::kCorrupt, "header size {} is not {}", load_le<uint32_t>(file.data() + 12), kArtifactHeaderSize);
  l.flatbuffer_offset = load_le<uint64_t>(file.data() + 16);
  l.flatbuffer_size = load_le<uint64_t>(file.data() + 24);
  l.weights_offset = load_le<uint64_t>(file.data() + 32);
  l.weights_size = load_le<uint64_t>(file.data() + 40);
  l.file_size = load_le<uint64_t>(file.data() + 48);
  if (l.file_size != file.size())
    return make_error(ErrorCode::kCorrupt, "header says {} bytes, file has {} (truncated or padded)", l.file_size, file.size());
  if (l.flatbuffer_offset != kArtifactHeaderSize || l.flatbuffer_size == 0 ||
      add_overflows(l.flatbuffer_offset, l.flatbuffer_size) || l.flatbuffer_offset + l.flatbuffer_size > l.weights_offset)
    return make_error(ErrorCode::kCorrupt, "graph section [{}, +{}) is out of place", l.flatbuffer_offset, l.flatbuffer_size);
  if (l.weights_offset % kSegmentAlignment != 0 || add_overflows(l.weights_offset, l.weights_size) ||
      l.weights_offset + l.weights_size != l.file_size)
    return make_error(ErrorCode::kCorrupt, "weight section [{}, +{}) does not end the file or is misaligned",
                      l.weights_offset, l.weights_size);
  return l;
}

Result<Graph> load_artifact(SharedBytes file) {
  if (file.size() > kMaxArtifactBytes)
    return make_error(ErrorCode::kOutOfRange, "artifact is {} bytes, more than the {} byte limit", file.size(), kMaxArtifactBytes);
  EL_TRY(ArtifactLayout l, read_layout(file.span()));
  const auto* fb_data = reinterpret_cast<const uint8_t*>(file.data() + l.flatbuffer_offset);
  flatbuffers::Verifier verifier(fb_data, l.flatbuffer_size, /*max_depth=*/32, /*max_tables=*/4'000'000);
  if (!fbs::VerifyModelBuffer(verifier))
    return make_error(ErrorCode::kCorrupt, "the graph section fails FlatBuffers verification");
  const fbs::Model* m = fbs::GetModel(fb_data);

  Graph g;
  const ByteSpan weights = file.span().subspan(l.weights_offset, l.weights_size);
  const auto keep_file = std::make_shared<SharedBytes>(file);  // one owner shared by every weight view
  std::set<std::string, std::less<>> names;
  if (m->tensors())
    for (const fbs::Tensor* ft : *m->tensors()) {
      Tensor t;
      t.name = ft->name()->str();
      if (!names.insert(t.name).second) return make_error(ErrorCode::kCorrupt, "tensor name '{}' is used twice", t.name);
      EL_TRY(t.dtype, read_dtype(ft->dtype(), "tensor '" + t.name + "'"));
      EL_TRY(t.shape, read_shape(ft->shape(), "tensor '" + t.name + "'"));
      if (const fbs::Quant* q = ft->quant()) {
        t.quant.scales = vec<float>(q->scales());
        if (q->scales_f16() != nullptr) {
          if (!t.quant.scales.empty())
            return make_error(ErrorCode::kCorrupt, "tensor '{}' stores its scales both as f32 and as f16", t.name);
          for (uint16_t h : *q->scales_f16()) t.quant.scales.push_back(half_to_float(h));
          t.quant.scale_dtype = DType::kF16;
        }
        t.quant.zero_points = vec<int32_t>(q->zero_points());
        t.quant.axis = q->axis();
        t.quant.block_axis = q->block_axis();
        t.quant.block_size = q->block_size();
        if (t.quant.empty()) return make_error(ErrorCode::kCorrupt, "tensor '{}' has quantization without scales", t.name);
      }
      t.constant = ft->constant();
      if (t.constant) {
        const uint64_t off = ft->data_offset(), len = ft->data_length();
        if (off % kSegmentAlignment != 0 || add_overflows(off, len) || off + len > weights.size())
          return make_error(ErrorCode::kCorrupt, "tensor '{}' data [{}, +{}) lies outside the {} byte weight section",
                            t.name, off, len, weights.size());
        if (len != t.byte_size())
          return make_error(ErrorCode::kCorrupt, "tensor '{}' has {} bytes of data, {} {} needs {}", t.name, len,
                            dtype_name(t.dtype), shape_str(t.shape), t.byte_size());
        t.data = SharedBytes::view(keep_file, weights.subspan(off, len));
      } else if (ft->data_length() != 0) {
        return make_error(ErrorCode::kCorrupt, "activation tensor '{}' claims weight data", t.name);
      }
      g.tensors.push_back(std::move(t));
    }
  if (m->nodes())
    for (const fbs::Node* fn : *m->nodes()) {
      Node n;
      n.name = str(fn->name());
      auto op = parse_op(fn->op()->string_view());
      if (!op)
        return make_error(ErrorCode::kUnsupported, "node '{}' uses op '{}', which this runtime ({}) does not know", n.name,
                          fn->op()->string_view(), kRuntimeVersion);
      n.op = *op;
      EL_TRY(n.inputs, read_ids(fn->inputs(), g.tensors.size(), true, "node '" + n.name + "'"));
      EL_TRY(n.outputs, read_ids(fn->outputs(), g.tensors.size(), false, "node '" + n.name + "'"));
      EL_TRY(n.attrs, read_attrs(fn->attrs(), n.name));
      g.nodes.push_back(std::move(n));
    }
  EL_TRY(g.inputs, read_ids(m->inputs(), g.tensors.size(), false, "graph inputs"));
  EL_TRY(g.outputs, read_ids(m->outputs(), g.tensors.size(), false, "graph outputs"));

  if (const fbs::Metadata* md = m->metadata()) {
    Metadata& meta = g.meta;
    meta.name = str(md->name());
    meta.version = str(md->version());
    meta.variant = str(md->variant());
    meta.producer = str(md->producer());
    meta.min_runtime_version = str(md->min_runtime_version());
    if (md->inputs())
      for (const fbs::IoSpec* s : *md->inputs())
        meta.inputs.push_back({s->name()->str(), str(s->layout()), s->scale(), vec<float>(s->mean()), vec<float>(s->std())});
    if (md->labels())
      for (const auto* s : *md->labels()) meta.labels.push_back(str(s));
    if (md->required_ops())
      for (const auto* s : *md->required_ops()) meta.required_ops.push_back(str(s));
    if (md->properties())
      for (const fbs::Property* p : *md->properties()) meta.properties.emplace_back(p->key()->str(), str(p->value()));
    if (const fbs::Golden* gv = md->golden()) {
      GoldenVector golden;
      golden.rtol = gv->rtol();
      golden.atol = gv->atol();
      if (!(std::isfinite(golden.rtol) && golden.rtol >= 0 && std::isfinite(golden.atol) && golden.atol >= 0))
        return make_error(ErrorCode::kCorrupt, "golden vector tolerances must be finite and non-negative");
      if (gv->inputs())
        for (const auto* v : *gv->inputs()) {
          EL_TRY(auto t, read_value(v));
          golden.inputs.push_back(std::move(t));
        }
      if (gv->outputs())
        for (const auto* v : *gv->outputs()) {
          EL_TRY(auto t, read_value(v));
          golden.outputs.push_back(std::move(t));
        }
      meta.golden = std::move(golden);
    }
  }
  if (!g.meta.min_runtime_version.empty() && compare_versions(kRuntimeVersion, g.meta.min_runtime_version) < 0)
    return make_error(ErrorCode::kUnsupported, "the model needs runtime {} or newer, this is {}; update the app first",
                      g.meta.min_runtime_version, kRuntimeVersion);
  for (const std::string& op : g.meta.required_ops)
    if (!parse_op(op))
      return make_error(ErrorCode::kUnsupported, "the model requires op '{}', which runtime {} does not have", op,
                        kRuntimeVersion);
  EL_CHECK(verify_graph(g));
  return g;
}

Result<Graph> load_artifact(const std::filesystem::path& path) {
  EL_TRY(SharedBytes file, map_file(path));
  auto g = load_artifact(std::move(file));
  if (!g) return std::unexpected(std::move(g).error().context(path.string()));
  return g;
}

}  // namespace edgeloop::model
