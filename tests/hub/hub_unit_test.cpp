// SHA-256 against FIPS 180-4 vectors, ETag parsing as huggingface_hub does it, and the mapping
// of model references to URLs and cache paths.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "hub/download.h"
#include "hub/model_ref.h"
#include "hub/sha256.h"

namespace edgellm::hub {
namespace {

std::string sha(std::string_view s) {
  Sha256 h;
  h.update(s);
  return h.hex_digest();
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, ChunkedUpdatesMatchOneUpdate) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7 + 3);
  const std::string whole = sha(text);
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 200u}) {
    Sha256 h;
    for (size_t pos = 0; pos < text.size(); pos += step) h.update(std::string_view(text).substr(pos, step));
    EXPECT_EQ(h.hex_digest(), whole) << "chunks of " << step;
  }
}

TEST(Sha256, FileAndShapeCheck) {
  const auto path = std::filesystem::temp_directory_path() / "edgellm_sha_test.bin";
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_EQ(sha256_file(path.string()), sha("abc"));
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path.string()), Error);
  EXPECT_TRUE(looks_like_sha256(sha("x")));
  EXPECT_FALSE(looks_like_sha256("abc"));
  EXPECT_FALSE(looks_like_sha256(std::string(63, 'a') + "g"));
}

TEST(Etag, HubLinkedEtagIsTheSha256) {
  const std::string digest(64, 'a');
  EXPECT_EQ(sha256_from_etag("\"" + digest + "\""), digest);
  EXPECT_EQ(sha256_from_etag("W/\"" + std::string(64, 'B') + "\""), std::string(64, 'b'));
  EXPECT_EQ(sha256_from_etag("\"0123456789abcdef0123456789abcdef01234567\""), "");  // git blob id
  EXPECT_EQ(sha256_from_etag(""), "");
}

TEST(ModelRef, HuggingFaceReference) {
  ::setenv("EDGELLM_HF_ENDPOINT", "http://127.0.0.1:1234/", 1);
  const RemoteFile f = parse_remote_reference("hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_0.gguf");
  EXPECT_TRUE(f.from_hugging_face);
  EXPECT_EQ(f.url, "http://127.0.0.1:1234/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_0.gguf");
  EXPECT_EQ(f.cache_path, "hf/Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_0.gguf");
  const RemoteFile rev = parse_remote_reference("hf://o/r@v1.0/sub/m.gguf");
  EXPECT_EQ(rev.url, "http://127.0.0.1:1234/o/r/resolve/v1.0/sub/m.gguf");
  EXPECT_EQ(rev.cache_path, "hf/o/r@v1.0/sub/m.gguf");
  ::unsetenv("EDGELLM_HF_ENDPOINT");
  EXPECT_EQ(parse_remote_reference("hf://o/r/m.gguf").url, "https://huggingface.co/o/r/resolve/main/m.gguf");
}

TEST(ModelRef, UrlReference) {
  const RemoteFile f = parse_remote_reference("https://example.org:8443/models/m.gguf?download=true");
  EXPECT_FALSE(f.from_hugging_face);
  EXPECT_EQ(f.url, "https://example.org:8443/models/m.gguf?download=true");
  EXPECT_EQ(f.cache_path, "url/example.org:8443/models/m.gguf");
  EXPECT_TRUE(is_remote_reference("http://x/y"));
  EXPECT_FALSE(is_remote_reference("models/default.gguf"));
}

TEST(ModelRef, MalformedReferencesAreClearErrors) {
  for (const char* bad : {"hf://", "hf://owner", "hf://owner/repo", "hf://owner/repo/", "hf://owner//m.gguf",
                          "hf://o/../m.gguf", "hf://o/r/../../etc/passwd", "hf://o/@x/m.gguf", "https://host",
                          "https://host/", "https://host/a/../b.gguf"}) {
    try {
      parse_remote_reference(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expected hf://OWNER/REPO/FILE.gguf"), std::string::npos) << e.what();
    }
  }
}

TEST(Cache, DirectoryFromEnvironmentAndListing) {
  const auto dir = std::filesystem::temp_directory_path() / "edgellm_cache_list_test";
  std::filesystem::remove_all(dir);
  ::setenv("EDGELLM_CACHE", dir.c_str(), 1);
  EXPECT_EQ(cache_directory(), dir.string());
  EXPECT_TRUE(list_cache(dir.string()).empty());
  std::filesystem::create_directories(dir / "hf/o/r");
  std::filesystem::create_directories(dir / "url/h:1/p");
  std::ofstream(dir / "hf/o/r/a.gguf") << "12345";
  std::ofstream(dir / "url/h:1/p/b.gguf.part") << "12";
  const auto files = list_cache(dir.string());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].reference, "hf://o/r/a.gguf");
  EXPECT_EQ(files[0].bytes, 5u);
  EXPECT_FALSE(files[0].partial);
  EXPECT_EQ(files[1].reference, "https://h:1/p/b.gguf");
  EXPECT_TRUE(files[1].partial);
  ::unsetenv("EDGELLM_CACHE");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgellm::hub
