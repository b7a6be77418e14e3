#include "hub/model_ref.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace edgellm::hub {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHfScheme = "hf://";
constexpr std::string_view kPartSuffix = ".part";

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    parts.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

// A path segment that is safe to use as a directory or file name in the cache.
bool safe_segment(const std::string& s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 255) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '\\' || c == '\0' || static_cast<unsigned char>(c) < 0x20;
  });
}

[[noreturn]] void bad_reference(std::string_view ref, std::string_view why) {
  fail("bad model reference {:?}: {}; expected hf://OWNER/REPO/FILE.gguf or https://HOST/PATH/FILE.gguf",
       ref.substr(0, 300), why);
}

std::string join(const std::vector<std::string>& parts, size_t from, char sep) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) {
    if (i > from) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

bool is_remote_reference(std::string_view ref) {
  return ref.starts_with(kHfScheme) || ref.starts_with("https://") || ref.starts_with("http://");
}

std::string hugging_face_endpoint() {
  std::string endpoint = env_or_empty("EDGELLM_HF_ENDPOINT");
  if (endpoint.empty()) endpoint = env_or_empty("HF_ENDPOINT");
  if (endpoint.empty()) endpoint = "https://huggingface.co";
  while (endpoint.ends_with('/')) endpoint.pop_back();
  return endpoint;
}

RemoteFile parse_remote_reference(std::string_view ref) {
  RemoteFile out;
  if (ref.starts_with(kHfScheme)) {
    const std::vector<std::string> parts = split_path(ref.substr(kHfScheme.size()));
    if (parts.size() < 3) bad_reference(ref, "it needs an owner, a repository and a file");
    for (const auto& p : parts) {
      if (!safe_segment(p)) bad_reference(ref, "empty, '.' or '..' path segment");
    }
    std::string repo = parts[1], revision = "main";
    if (const size_t at = repo.find('@'); at != std::string::npos) {
      revision = repo.substr(at + 1);
      repo.resize(at);
      if (repo.empty() || revision.empty()) bad_reference(ref, "empty repository or revision around '@'");
    }
    const std::string file = join(parts, 2, '/');
    out.from_hugging_face = true;
    out.url = fmt::format("{}/{}/{}/resolve/{}/{}", hugging_face_endpoint(), parts[0], repo, revision, file);
    out.cache_path = revision == "main" ? fmt::format("hf/{}/{}/{}", parts[0], repo, file)
                                        : fmt::format("hf/{}/{}@{}/{}", parts[0], repo, revision, file);
    out.display = fmt::format("hf://{}/{}/{}", parts[0], parts[1], file);
    return out;
  }
  const size_t scheme_end = ref.find("://");
  if (scheme_end == std::string_view::npos || !is_remote_reference(ref)) bad_reference(ref, "unknown scheme");
  std::string_view rest = ref.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));  // the query does not name the file
  const std::vector<std::string> parts = split_path(rest);
  if (parts.size() < 2 || parts.back().empty()) bad_reference(ref, "the URL does not end in a file name");
  for (const auto& p : parts) {
    if (!safe_segment(p)) bad_reference(ref, "empty, '.' or '..' path segment");
  }
  out.url = std::string(ref);
  // host[:port] becomes a directory; ':' is fine in POSIX file names.
  out.cache_path = "url/" + join(parts, 0, '/');
  out.display = out.url;
  return out;
}

std::string cache_directory() {
  if (std::string dir = env_or_empty("EDGELLM_CACHE"); !dir.empty()) return dir;
  if (std::string xdg = env_or_empty("XDG_CACHE_HOME"); !xdg.empty()) return xdg + "/edgellm";
  if (std::string home = env_or_empty("HOME"); !home.empty()) return home + "/.cache/edgellm";
  fail("no cache directory: set EDGELLM_CACHE (or HOME)");
}

std::vector<CachedFile> list_cache(const std::string& cache_dir) {
  std::vector<CachedFile> out;
  std::error_code ec;
  if (!fs::is_directory(cache_dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(cache_dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    CachedFile f;
    f.path = it->path().string();
    f.bytes = it->file_size(ec);
    std::string rel = fs::relative(it->path(), cache_dir, ec).generic_string();
    if (rel.ends_with(".sha256")) continue;  // our record of a verified hash, not a model
    if (rel.ends_with(kPartSuffix)) {
      f.partial = true;
      rel.resize(rel.size() - kPartSuffix.size());
    }
    if (rel.starts_with("hf/")) {
      f.reference = "hf://" + rel.substr(3);
    } else if (rel.starts_with("url/")) {
      f.reference = "https://" + rel.substr(4);
    } else {
      f.reference = rel;
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const CachedFile& a, const CachedFile& b) { return a.reference < b.reference; });
  return out;
}

}  // namespace edgellm::hub
