#include "hub/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace edgellm::hub {

struct Sha256::Context {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (context_->md == nullptr || EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) != 1)
    fail("SHA-256: OpenSSL could not start a digest");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const uint8_t> data) {
  if (EVP_DigestUpdate(context_->md, data.data(), data.size()) != 1) fail("SHA-256: OpenSSL update failed");
}

void Sha256::update(std::string_view data) {
  update(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::string Sha256::hex_digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->md, digest.data(), &length) != 1 || length != 32)
    fail("SHA-256: OpenSSL could not finish the digest");
  std::string out;
  out.reserve(64);
  for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {} to check its SHA-256", path);
  Sha256 hash;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = in.gcount();
    if (got > 0) hash.update(std::string_view(chunk.data(), static_cast<size_t>(got)));
  }
  if (in.bad()) fail("read error in {} while checking its SHA-256", path);
  return hash.hex_digest();
}

bool looks_like_sha256(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace edgellm::hub
