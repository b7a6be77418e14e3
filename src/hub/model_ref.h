// Where a model comes from and where it lives in the local cache.
//   hf://OWNER/REPO/PATH/FILE.gguf   a file of a Hugging Face model repository (revision "main",
//                                    or hf://OWNER/REPO@REVISION/FILE.gguf)
//   https://HOST/PATH/FILE.gguf      any URL (http:// too, for local mirrors and tests)
// The cache is $EDGELLM_CACHE, else $XDG_CACHE_HOME/edgellm, else ~/.cache/edgellm; a file is kept
// at <cache>/hf/OWNER/REPO/PATH/FILE or <cache>/url/HOST/PATH/FILE.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgellm::hub {

struct RemoteFile {
  bool from_hugging_face = false;
  std::string url;         // what is downloaded
  std::string cache_path;  // relative to the cache directory
  std::string display;     // the reference as the user wrote it, normalised
};

// True for "hf://..." and "http(s)://..." references (anything else is a local path).
bool is_remote_reference(std::string_view ref);

// Parses a remote reference; fails with the expected form on anything malformed (empty parts,
// "..", a file name that is not a plain path).
RemoteFile parse_remote_reference(std::string_view ref);

// $EDGELLM_HF_ENDPOINT (like huggingface_hub's HF_ENDPOINT), else $HF_ENDPOINT, else
// https://huggingface.co; without a trailing slash.
std::string hugging_face_endpoint();

// The cache directory (see above); fails when none can be determined.
std::string cache_directory();

struct CachedFile {
  std::string reference;  // hf://... or https://... reconstructed from the cache path
  std::string path;
  uint64_t bytes = 0;
  bool partial = false;  // an interrupted download (.part) that `pull` would resume
};

// Every file in the cache directory, sorted by reference; empty when the cache does not exist.
std::vector<CachedFile> list_cache(const std::string& cache_dir);

}  // namespace edgellm::hub
