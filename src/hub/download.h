// Downloads one file over HTTP(S) with libcurl: resumes a partial download (<dest>.part, HTTP
// Range), follows redirects, checks the SHA-256 the source publishes, and never hangs (connect
// and low-speed timeouts). Errors say what to do next (check the network, retry to resume, fix
// the name, set HF_TOKEN).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace edgellm::hub {

struct DownloadProgress {
  uint64_t bytes_done = 0;   // including bytes resumed from an earlier attempt
  uint64_t bytes_total = 0;  // 0 when the server does not say
  double seconds = 0;        // since this attempt started
  uint64_t bytes_this_attempt = 0;
};

struct DownloadOptions {
  int connect_timeout_seconds = 20;
  // The transfer fails when fewer than 1 byte/s arrives for this long (a stalled server).
  int stall_timeout_seconds = 30;
  bool hugging_face = false;  // read the SHA-256 from X-Linked-Etag / ETag; send HF_TOKEN
  bool check_sidecar = true;  // for plain URLs: use URL.sha256 when the server has one
  std::function<void(const DownloadProgress&)> on_progress;  // called at most ~10 times a second
};

struct DownloadResult {
  uint64_t bytes = 0;
  uint64_t resumed_from = 0;  // bytes kept from an earlier partial download
  std::string sha256;         // of the whole file
  bool verified = false;      // the source published a SHA-256 and it matched
};

// Downloads url to dest (through dest + ".part"); creates dest's directory.
DownloadResult download_file(const std::string& url, const std::string& dest, const DownloadOptions& options);

// The stall timeout from $EDGELLM_STALL_TIMEOUT (seconds) when set, else fallback.
int stall_timeout_from_env(int fallback);

// Turns an ETag header value into a SHA-256 when it is one (W/ prefix and quotes removed, 64 hex
// digits); "" otherwise (a git blob id of a non-LFS file, an S3 MD5).
std::string sha256_from_etag(std::string etag);

}  // namespace edgellm::hub
