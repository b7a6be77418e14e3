// SHA-256 (FIPS 180-4), streaming. Used to check downloaded model files against the hash their
// source publishes (Hugging Face's LFS ETag, a .sha256 sidecar).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edgellm::hub {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> data);
  void update(std::string_view data);
  // The digest as 64 lowercase hex digits; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// The SHA-256 of a whole file, read in chunks; fails with a clear message if it cannot be read.
std::string sha256_file(const std::string& path);

// True for exactly 64 hex digits (either case).
bool looks_like_sha256(std::string_view text);

}  // namespace edgellm::hub
