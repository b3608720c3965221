#include "edgeloop/base/hash.h"

#include <openssl/evp.h>

#include <cstdlib>

// SHA-256 from OpenSSL's libcrypto, which uses the CPU's SHA instructions (x86 SHA-NI, ARMv8
// SHA-2) where there are any: ~5x libsodium's portable code on this project's machines, and
// the bulk of a delta apply's time (docs/benchmarks.md, "Delta updates"). libcrypto is on every
// device already (libcurl's TLS). Signatures stay with libsodium (crypto/).
namespace edgeloop {
namespace {

const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();  // libcrypto without SHA-256: nothing can be verified
    return m;
  }();
  return md;
}

EVP_MD_CTX* ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

}  // namespace

Sha256 sha256(ByteSpan data) {
  Sha256 out;
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &n, sha256_md(), nullptr) != 1 ||
      n != out.size())
    std::abort();
  return out;
}

Sha256Hasher::Sha256Hasher() : state_(EVP_MD_CTX_new()) {
  if (state_ == nullptr || EVP_DigestInit_ex(ctx(state_), sha256_md(), nullptr) != 1) std::abort();
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx(state_)); }

void Sha256Hasher::update(ByteSpan data) {
  if (EVP_DigestUpdate(ctx(state_), data.data(), data.size()) != 1) std::abort();
}

Sha256 Sha256Hasher::finish() {
  Sha256 out;
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx(state_), reinterpret_cast<unsigned char*>(out.data()), &n) != 1 || n != out.size()) std::abort();
  return out;
}

std::string to_hex(ByteSpan data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(data.size() * 2);
  for (std::byte b : data) {
    s.push_back(kDigits[static_cast<unsigned>(b) >> 4]);
    s.push_back(kDigits[static_cast<unsigned>(b) & 15]);
  }
  return s;
}

}  // namespace edgeloop
