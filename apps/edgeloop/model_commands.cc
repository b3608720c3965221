// edgeloop model import | inspect | run | eval | verify | cuts
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include "cli.h"
#include "edgeloop/compress/dataset.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/model/npy.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/split.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/program.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::cli {
namespace {

namespace fs = std::filesystem;
using model::Graph;

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// "name=1,3,224,224" → {"name", {1,3,224,224}}
std::pair<std::string, model::Shape> parse_input_shape(const std::string& spec) {
  auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) throw CommandError{fmt::format("--input-shape '{}': expected NAME=D1,D2,...", spec)};
  model::Shape shape;
  std::string dims = spec.substr(eq + 1);
  size_t pos = 0;
  while (pos <= dims.size()) {
    size_t comma = dims.find(',', pos);
    std::string d = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      long long v = std::stoll(d, &used);
      if (used != d.size() || v < 0) throw std::invalid_argument(d);
      shape.push_back(v);
    } catch (const std::exception&) {
      throw CommandError{fmt::format("--input-shape '{}': '{}' is not a dimension", spec, d)};
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return {spec.substr(0, eq), shape};
}

Json tensor_json(const model::Tensor& t) {
  Json j{{"name", t.name}, {"dtype", model::dtype_name(t.dtype)}, {"shape", t.shape}};
  if (!t.quant.empty()) j["quantization"] = {{"scales", t.quant.scales.size()}, {"axis", t.quant.axis}, {"block_size", t.quant.block_size}};
  return j;
}

std::string human_bytes(size_t b) {
  if (b >= (1u << 20)) return fmt::format("{:.2f} MiB", b / 1048576.0);
  if (b >= 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", b);
}

Json summary_json(const Summary& s) {
  return {{"count", s.count}, {"min", s.min}, {"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p95", s.p95}, {"p99", s.p99}, {"max", s.max}};
}

// ------------------------------------------------------------------------- import

struct ImportArgs {
  std::string onnx, out, name, version;
  std::vector<std::string> input_shapes;
  bool json = false;
};

void run_import(const ImportArgs& a) {
  model::ImportOptions opts;
  opts.name = a.name;
  opts.version = a.version;
  for (const auto& s : a.input_shapes) opts.input_shapes.insert(parse_input_shape(s));
  const auto start = std::chrono::steady_clock::now();
  Graph g = unwrap(model::import_onnx(a.onnx, opts));
  unwrap(runtime::attach_golden(g), "computing the golden test vector");
  unwrap(model::write_artifact(g, a.out), "writing " + a.out);
  const double ms = ms_since(start);
  const size_t file_bytes = fs::file_size(a.out);
  if (a.json) {
    print_json({{"output", a.out}, {"name", g.meta.name}, {"version", g.meta.version}, {"nodes", g.nodes.size()},
                {"ops", g.ops_used()}, {"weight_bytes", g.weight_bytes()}, {"file_bytes", file_bytes}, {"milliseconds", ms}});
    return;
  }
  fmt::print("imported {} → {}\n  model {} v{}: {} nodes, ops {}\n  weights {}, file {}, golden vector attached ({:.0f} ms)\n",
             a.onnx, a.out, g.meta.name, g.meta.version, g.nodes.size(), fmt::join(g.ops_used(), " "),
             human_bytes(g.weight_bytes()), human_bytes(file_bytes), ms);
}

// ------------------------------------------------------------------------- inspect

struct InspectArgs {
  std::string path;
  RuntimeFlags rt;
  bool json = false, nodes = false;
};

void run_inspect(const InspectArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  runtime::Program p = unwrap(runtime::Program::load(a.path, a.rt.load()));
  const double load_ms = ms_since(start);
  const Graph& g = p.graph();
  std::map<std::string, int> op_counts;
  for (const auto& n : g.nodes) ++op_counts[std::string(model::op_name(n.op))];
  int64_t params = 0;
  for (const auto& t : g.tensors)
    if (t.constant) params += t.elements();
  const auto& m = g.meta;
  // Per backend: how many steps (partitions, or nodes on the reference kernels) and nodes it runs.
  std::map<std::string, std::pair<int, int>> placement;
  for (const auto& s : p.steps()) {
    ++placement[s.backend].first;
    placement[s.backend].second += static_cast<int>(s.nodes.size());
  }
  if (a.json) {
    Json j{{"path", a.path}, {"name", m.name}, {"version", m.version}, {"variant", m.variant}, {"producer", m.producer},
           {"min_runtime_version", m.min_runtime_version}, {"labels", m.labels}, {"required_ops", m.required_ops},
           {"inputs", Json::array()}, {"outputs", Json::array()}, {"ops", op_counts}, {"nodes", g.nodes.size()},
           {"tensors", g.tensors.size()}, {"parameters", params}, {"weight_bytes", g.weight_bytes()},
           {"file_bytes", fs::file_size(a.path)}, {"arena_bytes", p.plan().arena_bytes},
           {"naive_activation_bytes", p.plan().naive_bytes}, {"golden", m.golden.has_value()}, {"load_ms", load_ms},
           {"backends", Json::object()}};
    for (const auto& [b, c] : placement) j["backends"][b] = {{"steps", c.first}, {"nodes", c.second}};
    for (auto id : g.inputs) j["inputs"].push_back(tensor_json(g.tensors[id]));
    for (auto id : g.outputs) j["outputs"].push_back(tensor_json(g.tensors[id]));
    for (const auto& [k, v] : m.properties) j["properties"][k] = v;
    if (a.nodes) {
      j["node_list"] = Json::array();
      for (const auto& n : g.nodes) {
        Json jn{{"name", n.name}, {"op", model::op_name(n.op)}, {"inputs", Json::array()}, {"outputs", Json::array()}};
        for (auto id : n.inputs) jn["inputs"].push_back(id == model::kNoTensor ? "" : g.tensors[id].name);
        for (auto id : n.outputs) jn["outputs"].push_back(tensor_json(g.tensors[id]));
        j["node_list"].push_back(jn);
      }
    }
    print_json(j);
    return;
  }
  fmt::print("{}\n  model     {} v{} ({}), produced by {}\n", a.path, m.name, m.version, m.variant, m.producer);
  for (auto id : g.inputs)
    fmt::print("  input     {} {} {}\n", g.tensors[id].name, model::dtype_name(g.tensors[id].dtype), model::shape_str(g.tensors[id].shape));
  for (auto id : g.outputs)
    fmt::print("  output    {} {} {}\n", g.tensors[id].name, model::dtype_name(g.tensors[id].dtype), model::shape_str(g.tensors[id].shape));
  std::string ops;
  for (const auto& [op, n] : op_counts) ops += fmt::format("{}{}×{}", ops.empty() ? "" : ", ", op, n);
  fmt::print("  nodes     {} ({})\n  params    {} in {} constant tensors, {}\n", g.nodes.size(), ops, params,
             std::count_if(g.tensors.begin(), g.tensors.end(), [](auto& t) { return t.constant; }), human_bytes(g.weight_bytes()));
  std::string placed;
  for (const auto& [b, c] : placement)
    placed += b == "reference" ? fmt::format("{}{} ({} nodes)", placed.empty() ? "" : ", ", b, c.second)
                               : fmt::format("{}{} ({} partitions, {} nodes)", placed.empty() ? "" : ", ", b, c.first, c.second);
  fmt::print("  backends  {}\n", placed);
  fmt::print("  arena     {} planned (naive sum of activations {})\n", human_bytes(p.plan().arena_bytes), human_bytes(p.plan().naive_bytes));
  fmt::print("  file      {}, loaded and verified in {:.2f} ms\n", human_bytes(fs::file_size(a.path)), load_ms);
  fmt::print("  runtime   {}; golden vector {}\n",
             m.min_runtime_version.empty() ? "any version" : m.min_runtime_version + " or newer", m.golden ? "present" : "absent");
  if (!m.labels.empty()) fmt::print("  labels    {}\n", fmt::join(m.labels, ", "));
  for (const auto& [k, v] : m.properties) fmt::print("  {:<9} {}\n", k, v);
  if (a.nodes)
    for (const auto& n : g.nodes) {
      std::vector<std::string> outs;
      for (auto id : n.outputs) outs.push_back(g.tensors[id].name + model::shape_str(g.tensors[id].shape));
      fmt::print("    {:<18} {:<28} → {}\n", model::op_name(n.op), n.name, fmt::join(outs, ", "));
    }
}

// ------------------------------------------------------------------------- run

struct RunArgs {
  std::string path, output_dir;
  std::vector<std::string> inputs;
  RuntimeFlags rt;
  bool json = false;
};

void run_run(const RunArgs& a) {
  runtime::Program p = unwrap(runtime::Program::load(a.path, a.rt.load()));
  const Graph& g = p.graph();
  std::vector<model::TensorData> inputs;
  for (const std::string& spec : a.inputs) {
    auto eq = spec.find('=');
    std::string name = eq == std::string::npos ? std::string() : spec.substr(0, eq);
    std::string file = eq == std::string::npos ? spec : spec.substr(eq + 1);
    if (name.empty()) {
      if (g.inputs.size() != 1) throw CommandError{fmt::format("the model has {} inputs: write --input NAME=file.npy", g.inputs.size())};
      name = g.tensors[g.inputs[0]].name;
    }
    auto t = unwrap(model::read_npy(file));
    t.name = name;
    inputs.push_back(std::move(t));
  }
  runtime::Session session(p);
  const auto start = std::chrono::steady_clock::now();
  auto outputs = unwrap(session.run(inputs));
  const double ms = ms_since(start);
  fs::create_directories(a.output_dir);
  Json j{{"milliseconds", ms}, {"outputs", Json::array()}};
  for (const auto& out : outputs) {
    std::string file = out.name;
    for (char& c : file)
      if (c == '/' || c == '\\' || c == ':') c = '_';
    fs::path path = fs::path(a.output_dir) / (file + ".npy");
    unwrap(model::write_npy(out, path));
    j["outputs"].push_back({{"name", out.name}, {"path", path.string()}, {"dtype", model::dtype_name(out.dtype)}, {"shape", out.shape}});
    if (!a.json) fmt::print("{} {} {} → {}\n", out.name, model::dtype_name(out.dtype), model::shape_str(out.shape), path.string());
  }
  if (a.json) print_json(j);
  else fmt::print("ran in {:.3f} ms\n", ms);
}

// ------------------------------------------------------------------------- eval

struct EvalArgs {
  std::string path, dataset = "fashion-mnist", split = "test", logits_out;
  int64_t limit = 0;
  int threads = 1;
  RuntimeFlags rt;
  bool json = false;
};

void run_eval(const EvalArgs& a) {
  if (a.dataset != "fashion-mnist") throw CommandError{fmt::format("unknown dataset '{}': only fashion-mnist is built in", a.dataset)};
  runtime::Program p = unwrap(runtime::Program::load(a.path, a.rt.load()));
  auto data = unwrap(compress::load_fashion_mnist(a.split, a.limit));
  compress::EvalOptions opts;
  opts.keep_logits = !a.logits_out.empty();
  opts.threads = a.threads;
  opts.progress = [](int64_t done, int64_t total) { progress("evaluating", done, total); };
  auto r = unwrap(compress::evaluate_classifier(p, data, opts));
  if (!a.logits_out.empty()) {
    model::TensorData t{"logits", model::DType::kF32, {r.count, r.classes}, {}};
    t.bytes.resize(r.logits.size() * sizeof(float));
    std::memcpy(t.bytes.data(), r.logits.data(), t.bytes.size());
    unwrap(model::write_npy(t, a.logits_out));
  }
  if (a.json) {
    print_json({{"model", a.path}, {"dataset", a.dataset}, {"split", a.split}, {"images", r.count}, {"correct", r.correct},
                {"top1", r.accuracy()}, {"threads", a.threads}, {"backends", p.backends_used()}, {"latency_us", summary_json(r.latency_us)}});
    return;
  }
  fmt::print("{} on {}:{} ({} images)\n  top-1 accuracy  {:.2f}% ({} correct)\n", a.path, a.dataset, a.split, r.count,
             100 * r.accuracy(), r.correct);
  fmt::print("  latency (µs)    p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  max {:.1f}  (backends {}, {} session thread{})\n",
             r.latency_us.p50, r.latency_us.p90, r.latency_us.p99, r.latency_us.max, fmt::join(p.backends_used(), "+"), a.threads,
             a.threads == 1 ? "" : "s");
}

// ------------------------------------------------------------------------- verify

struct VerifyArgs {
  std::string path;
  RuntimeFlags rt;
  bool json = false;
};

void run_verify(const VerifyArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  runtime::Program p = unwrap(runtime::Program::load(a.path, a.rt.load()));
  unwrap(runtime::check_golden(p));
  const double ms = ms_since(start);
  if (a.json) print_json({{"path", a.path}, {"ok", true}, {"milliseconds", ms}});
  else fmt::print("{}: verified, golden test vector passes ({:.2f} ms)\n", a.path, ms);
}

// ------------------------------------------------------------------------- cuts

struct CutsArgs {
  std::string path;
  bool json = false;
};

// Where split inference (docs/split-inference.md) can cut the model, and what would then leave
// the device instead of the raw input.
void run_cuts(const CutsArgs& a) {
  const Graph g = unwrap(model::load_artifact(fs::path(a.path)), "loading " + a.path);
  const std::vector<std::string> cuts = model::cut_candidates(g);
  size_t input_bytes = 0;
  for (auto id : g.inputs) input_bytes += g.tensors[id].byte_size();
  Json list = Json::array();
  for (const std::string& name : cuts) {
    const model::Tensor& t = g.tensors[*g.find_tensor(name)];
    const model::SplitModel split = unwrap(model::split_at(g, name));
    list.push_back({{"name", name}, {"dtype", model::dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.byte_size()},
                    {"head_nodes", split.head.nodes.size()}, {"tail_nodes", split.tail.nodes.size()}});
  }
  if (a.json) {
    print_json({{"path", a.path}, {"name", g.meta.name}, {"version", g.meta.version}, {"variant", g.meta.variant},
                {"input_bytes", input_bytes}, {"cuts", list}});
    return;
  }
  fmt::print("{}: {} v{} ({}), {} cut point{}; the raw input, which never leaves the device, is {}\n", a.path, g.meta.name,
             g.meta.version, g.meta.variant, cuts.size(), cuts.size() == 1 ? "" : "s", human_bytes(input_bytes));
  if (cuts.empty()) return;
  size_t width = 6;
  for (const auto& c : cuts) width = std::max(width, c.size());
  fmt::print("  {:<{}}  {:<5} {:<18} {:>10}  {}\n", "tensor", width, "dtype", "shape", "sent", "nodes head/tail");
  for (const auto& c : list)
    fmt::print("  {:<{}}  {:<5} {:<18} {:>10}  {}/{}\n", c["name"].get<std::string>(), width, c["dtype"].get<std::string>(),
               model::shape_str(c["shape"].get<model::Shape>()), human_bytes(c["bytes"].get<size_t>()),
               c["head_nodes"].get<size_t>(), c["tail_nodes"].get<size_t>());
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Import, inspect, run and evaluate .edge model artifacts");
  model->require_subcommand(1);

  auto ia = std::make_shared<ImportArgs>();
  auto* imp = model->add_subcommand("import", "Convert an ONNX model into a verified .edge artifact with a golden test vector");
  imp->add_option("model", ia->onnx, "ONNX model file")->required()->check(CLI::ExistingFile);
  imp->add_option("-o,--output", ia->out, "the .edge file to write")->required();
  imp->add_option("--name", ia->name, "model name stored in the artifact (default: the ONNX graph name)");
  imp->add_option("--version", ia->version, "model version stored in the artifact (default: 1)");
  imp->add_option("--input-shape", ia->input_shapes, "fix an input's shape, NAME=D1,D2,... (needed for symbolic dims)");
  imp->add_flag("--json", ia->json, "print the result as JSON");
  imp->callback([ia] { run_import(*ia); });

  auto sa = std::make_shared<InspectArgs>();
  auto* ins = model->add_subcommand("inspect", "Show an artifact's metadata, ops, parameters, bytes and planned arena");
  ins->add_option("model", sa->path, ".edge file")->required();
  ins->add_flag("--nodes", sa->nodes, "list every node");
  add_runtime_flags(ins, sa->rt);
  ins->add_flag("--json", sa->json, "print as JSON");
  ins->callback([sa] { run_inspect(*sa); });

  auto ra = std::make_shared<RunArgs>();
  auto* run = model->add_subcommand("run", "Run a model on .npy inputs and write one .npy per output");
  run->add_option("model", ra->path, ".edge file")->required();
  run->add_option("-i,--input", ra->inputs, "NAME=file.npy (or file.npy for a one-input model)")->required();
  run->add_option("-d,--output-dir", ra->output_dir, "folder for the outputs, one NAME.npy each")->required();
  add_runtime_flags(run, ra->rt);
  run->add_flag("--json", ra->json, "print as JSON");
  run->callback([ra] { run_run(*ra); });

  auto ea = std::make_shared<EvalArgs>();
  auto* ev = model->add_subcommand("eval", "Top-1 accuracy and latency of a classifier on a dataset");
  ev->add_option("model", ea->path, ".edge file")->required();
  ev->add_option("--dataset", ea->dataset, "dataset (fashion-mnist)")->capture_default_str();
  ev->add_option("--split", ea->split, "train or test")->capture_default_str();
  ev->add_option("--limit", ea->limit, "evaluate only the first N images (0 = all)")->check(CLI::NonNegativeNumber);
  ev->add_option("--logits-out", ea->logits_out, "also write every image's scores to this .npy [N, classes]");
  ev->add_option("--threads", ea->threads, "sessions evaluating slices of the images in parallel; latency is per inference")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  add_runtime_flags(ev, ea->rt, /*threads=*/false);
  ev->add_flag("--json", ea->json, "print as JSON");
  ev->callback([ea] { run_eval(*ea); });

  add_quantize_commands(*model);

  auto va = std::make_shared<VerifyArgs>();
  auto* ver = model->add_subcommand("verify", "Load and verify an artifact and run its golden test vector (the smoke test)");
  ver->add_option("model", va->path, ".edge file")->required();
  add_runtime_flags(ver, va->rt);
  ver->add_flag("--json", va->json, "print as JSON");
  ver->callback([va] { run_verify(*va); });

  auto ca = std::make_shared<CutsArgs>();
  auto* cuts = model->add_subcommand(
      "cuts", "List the tensors where split inference can cut the model (see `edgeloop stage-server`), with the bytes each sends");
  cuts->add_option("model", ca->path, ".edge file")->required();
  cuts->add_flag("--json", ca->json, "print as JSON");
  cuts->callback([ca] { run_cuts(*ca); });
}

}  // namespace edgeloop::cli
