#include "hub/download.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "hub/sha256.h"

namespace edgellm::hub {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kMaxAttempts = 4;  // a dropped connection is resumed this many times in one call

void ensure_curl_initialised() {
  // curl_global_init is not thread-safe on old libcurl; a function-local static runs it once.
  static const bool initialised = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) fail("libcurl failed to initialise");
    return true;
  }();
  (void)initialised;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string host_of(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return url;
  const size_t end = url.find('/', start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3);
}

// What one transfer attempt saw; shared with curl's callbacks.
struct Transfer {
  std::string part_path;
  FileHandle file;
  uint64_t offset = 0;  // bytes of the .part file kept (resume)
  uint64_t written = 0;
  bool checked_status = false;
  std::string write_error;
  int responses = 0;  // header blocks seen (one per redirect hop)
  std::string first_linked_etag, first_etag;
  const DownloadOptions* options = nullptr;
  CURL* curl = nullptr;
  Clock::time_point start;
  Clock::time_point last_report;
  // curl's low-speed check averages over a window of several seconds; we abort sooner, when no
  // byte has arrived for the stall timeout.
  curl_off_t last_dlnow = -1;
  Clock::time_point last_data;
  bool stalled = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    ++t->responses;
  } else if (t->responses == 1) {  // the server we asked (before redirects) publishes the hash
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = trim(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (name == "x-linked-etag") t->first_linked_etag = trim(line.substr(colon + 1));
      if (name == "etag") t->first_etag = trim(line.substr(colon + 1));
    }
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->checked_status) {
    t->checked_status = true;
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code == 200 && t->offset > 0) {  // the server ignored our Range: start over
      t->file.reset(std::fopen(t->part_path.c_str(), "wb"));
      t->offset = 0;
      if (!t->file) {
        t->write_error = "cannot rewrite " + t->part_path;
        return 0;
      }
    }
  }
  const size_t n = size * count;
  if (std::fwrite(data, 1, n, t->file.get()) != n) {
    t->write_error = "cannot write to " + t->part_path + " (disk full?)";
    return 0;
  }
  t->written += n;
  return n;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const auto now = Clock::now();
  if (dlnow != t->last_dlnow) {
    t->last_dlnow = dlnow;
    t->last_data = now;
  } else if (now - t->last_data >= std::chrono::seconds(t->options->stall_timeout_seconds)) {
    t->stalled = true;
    return 1;  // aborts the transfer
  }
  if (!t->options->on_progress) return 0;
  const bool done = dltotal > 0 && dlnow >= dltotal;
  if (!done && now - t->last_report < std::chrono::milliseconds(100)) return 0;
  t->last_report = now;
  DownloadProgress p;
  p.bytes_this_attempt = static_cast<uint64_t>(dlnow);
  p.bytes_done = t->offset + p.bytes_this_attempt;
  p.bytes_total = dltotal > 0 ? t->offset + static_cast<uint64_t>(dltotal) : 0;
  p.seconds = std::chrono::duration<double>(now - t->start).count();
  t->options->on_progress(p);
  return 0;
}

void set_common_options(CURL* c, const std::string& url, const DownloadOptions& o, char* error_buffer) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "edgellm/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(o.connect_timeout_seconds));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.stall_timeout_seconds));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
}

HeaderList auth_headers(const DownloadOptions& o) {
  curl_slist* list = nullptr;
  if (o.hugging_face) {
    // curl does not forward custom headers to another host on redirect (the CDN).
    if (const char* token = std::getenv("HF_TOKEN"); token && *token) {
      list = curl_slist_append(list, (std::string("Authorization: Bearer ") + token).c_str());
    }
  }
  return HeaderList(list);
}

[[noreturn]] void fail_http(long code, const std::string& url, const DownloadOptions& o) {
  if (code == 404) {
    fail("not found (HTTP 404): {}; check the {} (names are case-sensitive)", url,
         o.hugging_face ? "owner, repository and file name: hf://OWNER/REPO/FILE.gguf" : "URL");
  }
  if (code == 401 || code == 403) {
    fail("access denied (HTTP {}): {}; {}", code, url,
         o.hugging_face ? "the repository may be gated or private: accept its terms on the website and set "
                          "HF_TOKEN to an access token"
                        : "the server refused the request");
  }
  fail("HTTP {} from {}; try again later", code, url);
}

// The hex digest from a .sha256 sidecar next to url, or "" when there is none.
std::string fetch_sidecar_sha256(const std::string& url, const DownloadOptions& o) {
  CurlHandle c(curl_easy_init());
  if (!c) fail("libcurl: cannot create a handle");
  char error_buffer[CURL_ERROR_SIZE] = {};
  const std::string sidecar_url = url + ".sha256";
  set_common_options(c.get(), sidecar_url, o, error_buffer);
  // A sidecar is a few bytes: a server that cannot send them soon gets no second chance.
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, static_cast<long>(o.connect_timeout_seconds));
  std::string body;
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) -> size_t {
    auto* out = static_cast<std::string*>(u);
    if (out->size() + s * n > 4096) return 0;  // a sidecar is one line; anything bigger is not one
    out->append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);
  if (curl_easy_perform(c.get()) != CURLE_OK) return "";  // no sidecar (404) or unreadable
  const std::string first = trim(body.substr(0, body.find_first_of(" \t\r\n")));
  if (!looks_like_sha256(first)) return "";
  std::string lower = first;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return lower;
}

std::string describe_bytes(uint64_t n) { return fmt::format("{:.1f} MB", static_cast<double>(n) / 1e6); }

}  // namespace

std::string sha256_from_etag(std::string etag) {
  etag = trim(etag);
  if (etag.starts_with("W/")) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  if (!looks_like_sha256(etag)) return "";
  std::transform(etag.begin(), etag.end(), etag.begin(), [](unsigned char c) { return std::tolower(c); });
  return etag;
}

int stall_timeout_from_env(int fallback) {
  const char* v = std::getenv("EDGELLM_STALL_TIMEOUT");
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > 3600) fail("EDGELLM_STALL_TIMEOUT={:?}: expected seconds in 1..3600", v);
  return static_cast<int>(n);
}

DownloadResult download_file(const std::string& url, const std::string& dest, const DownloadOptions& options) {
  ensure_curl_initialised();
  std::error_code ec;
  const fs::path dest_path(dest);
  if (dest_path.has_parent_path()) {
    fs::create_directories(dest_path.parent_path(), ec);
    if (ec) fail("cannot create the cache directory {}: {}", dest_path.parent_path().string(), ec.message());
  }
  const std::string part_path = dest + ".part";
  std::string expected_sha = (!options.hugging_face && options.check_sidecar) ? fetch_sidecar_sha256(url, options) : "";

  DownloadResult result;
  bool first_attempt = true;
  for (int attempt = 1;; ++attempt) {
    Transfer t;
    t.part_path = part_path;
    t.options = &options;
    t.offset = fs::exists(part_path, ec) ? fs::file_size(part_path, ec) : 0;
    if (ec) t.offset = 0;
    if (first_attempt) result.resumed_from = t.offset;
    first_attempt = false;
    t.file.reset(std::fopen(part_path.c_str(), "ab"));
    if (!t.file) fail("cannot write {}: {}", part_path, std::strerror(errno));

    CurlHandle c(curl_easy_init());
    if (!c) fail("libcurl: cannot create a handle");
    t.curl = c.get();
    char error_buffer[CURL_ERROR_SIZE] = {};
    set_common_options(c.get(), url, options, error_buffer);
    const HeaderList headers = auth_headers(options);
    if (headers) curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
    if (t.offset > 0) curl_easy_setopt(c.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));
    curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, &t);
    t.start = t.last_report = t.last_data = Clock::now();

    const CURLcode rc = curl_easy_perform(c.get());
    long code = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
    if (std::fflush(t.file.get()) != 0) fail("cannot write {} (disk full?)", part_path);
    t.file.reset();
    if (options.hugging_face && expected_sha.empty()) {
      expected_sha = sha256_from_etag(t.first_linked_etag.empty() ? t.first_etag : t.first_linked_etag);
    }

    if (rc == CURLE_OK) break;
    if (!t.write_error.empty()) fail("download of {} failed: {}", url, t.write_error);
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
      if (code == 416 && t.offset > 0 && attempt < kMaxAttempts) {  // the .part is not a prefix we can extend
        fs::remove(part_path, ec);
        continue;
      }
      fail_http(code, url, options);
    }
    const std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ||
        ((rc == CURLE_OPERATION_TIMEDOUT || t.stalled) && t.responses == 0)) {
      fail("cannot reach {} ({}). Are you offline? Check the network (and any proxy settings), or download "
           "the file another way and pass its path with -m FILE.gguf",
           host_of(url), detail);
    }
    const uint64_t have = t.offset + t.written;
    if (rc == CURLE_OPERATION_TIMEDOUT || t.stalled) {
      fail("download of {} stalled: no data for {} s; {} are kept in {}: run the same command again to resume",
           url, options.stall_timeout_seconds, describe_bytes(have), part_path);
    }
    const bool transient = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
                           rc == CURLE_SEND_ERROR;
    if (transient && t.written > 0 && attempt < kMaxAttempts) {
      std::fprintf(stderr, "\nedgellm: connection lost after %s (%s); resuming\n", describe_bytes(have).c_str(),
                   detail.c_str());
      continue;
    }
    fail("download of {} failed: {}; {} are kept in {}: run the same command again to resume", url, detail,
         describe_bytes(have), part_path);
  }

  result.bytes = fs::file_size(part_path, ec);
  result.sha256 = sha256_file(part_path);
  if (!expected_sha.empty()) {
    if (result.sha256 != expected_sha) {
      fs::remove(part_path, ec);
      fail("SHA-256 mismatch for {}: the server publishes {}, the downloaded file has {}; the download was "
           "removed. Run the command again; if this persists the file on the server is damaged",
           url, expected_sha, result.sha256);
    }
    result.verified = true;
  }
  fs::rename(part_path, dest, ec);
  if (ec) fail("cannot move {} to {}: {}", part_path, dest, ec.message());
  return result;
}

}  // namespace edgellm::hub
