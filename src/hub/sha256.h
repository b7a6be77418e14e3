// SHA-256, streaming, through OpenSSL's EVP interface (SHA-NI / AVX2 code paths: multi-GB model
// files hash at GB/s). Used to check downloaded model files against the hash their source
// publishes (Hugging Face's LFS ETag, a .sha256 sidecar).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace edgellm::hub {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::span<const uint8_t> data);
  void update(std::string_view data);
  // The digest as 64 lowercase hex digits; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  struct Context;  // OpenSSL's EVP_MD_CTX, kept out of this header
  std::unique_ptr<Context> context_;
};

// The SHA-256 of a whole file, read in chunks; fails with a clear message if it cannot be read.
std::string sha256_file(const std::string& path);

// True for exactly 64 hex digits (either case).
bool looks_like_sha256(std::string_view text);

}  // namespace edgellm::hub
