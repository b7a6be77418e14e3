#include "model_source.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace edgellm::cli {
namespace {

namespace fs = std::filesystem;

std::string executable_directory() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

// One line, redrawn in place on a terminal; on a pipe or file, a line at each 25%.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(const hub::DownloadProgress& p) {
    const double rate = p.seconds > 0 ? static_cast<double>(p.bytes_this_attempt) / p.seconds : 0.0;
    if (p.bytes_total == 0) {
      if (tty_) std::fprintf(stderr, "\r%s %s  %.1f MB/s   ", label_.c_str(), megabytes(p.bytes_done).c_str(), rate / 1e6);
      return;
    }
    const double fraction = std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
    if (!tty_) {
      const int quarter = static_cast<int>(fraction * 4);
      if (quarter <= last_quarter_) return;
      last_quarter_ = quarter;
    }
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<size_t>(filled), '=');
    if (filled < kWidth) bar += '>';
    bar.resize(kWidth, ' ');
    std::fprintf(stderr, "%s%s [%s] %3.0f%% %s / %s  %.1f MB/s%s", tty_ ? "\r" : "", label_.c_str(), bar.c_str(),
                 fraction * 100.0, megabytes(p.bytes_done).c_str(), megabytes(p.bytes_total).c_str(), rate / 1e6,
                 tty_ ? "   " : "\n");
    drawn_ = true;
  }

  void finish() {
    if (drawn_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
  int last_quarter_ = -1;
};

}  // namespace

std::string default_model_path() {
  std::vector<std::string> tried;
  if (const char* env = std::getenv("EDGELLM_DEFAULT_MODEL"); env && *env) {
    if (!fs::is_regular_file(env)) fail("EDGELLM_DEFAULT_MODEL={} does not exist", env);
    return env;
  }
  if (const std::string dir = executable_directory(); !dir.empty()) {
    tried.push_back((fs::path(dir) / ".." / "share" / "edgellm" / "default.gguf").lexically_normal().string());
  }
#ifdef EDGELLM_SOURCE_DEFAULT_MODEL
  tried.emplace_back(EDGELLM_SOURCE_DEFAULT_MODEL);
#endif
  for (const auto& path : tried) {
    if (fs::is_regular_file(path)) return path;
  }
  std::string listing;
  for (const auto& path : tried) listing += "\n  " + path;
  fail("no model given (-m) and the bundled default model is missing; looked in $EDGELLM_DEFAULT_MODEL and:{}\n"
       "Pass a model with -m FILE.gguf or -m hf://OWNER/REPO/FILE.gguf",
       listing);
}

PullOutcome pull_model(const std::string& reference, bool force, int stall_timeout_seconds) {
  const hub::RemoteFile remote = hub::parse_remote_reference(reference);
  PullOutcome out;
  out.path = (fs::path(hub::cache_directory()) / remote.cache_path).string();
  if (!force && fs::is_regular_file(out.path)) {
    out.already_cached = true;
    return out;
  }
  hub::DownloadOptions options;
  options.hugging_face = remote.from_hugging_face;
  options.stall_timeout_seconds = stall_timeout_seconds > 0 ? stall_timeout_seconds : hub::stall_timeout_from_env(30);
  ProgressBar bar(fs::path(remote.cache_path).filename().string());
  options.on_progress = [&bar](const hub::DownloadProgress& p) { bar.update(p); };
  std::fprintf(stderr, "edgellm: downloading %s\n", remote.url.c_str());
  try {
    out.download = hub::download_file(remote.url, out.path, options);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  if (out.download.resumed_from > 0) {
    std::fprintf(stderr, "edgellm: resumed a partial download at %s\n", megabytes(out.download.resumed_from).c_str());
  }
  std::fprintf(stderr, "edgellm: saved %s (%s, SHA-256 %s%s)\n", out.path.c_str(),
               megabytes(out.download.bytes).c_str(), out.download.sha256.c_str(),
               out.download.verified ? ", verified" : ", not published by the source");
  return out;
}

std::string resolve_model_path(const std::string& model_arg) {
  if (model_arg.empty()) {
    std::string path = default_model_path();
    std::fprintf(stderr, "edgellm: no -m given; using the bundled default model %s\n", path.c_str());
    return path;
  }
  if (hub::is_remote_reference(model_arg)) return pull_model(model_arg, false).path;
  return model_arg;
}

}  // namespace edgellm::cli
