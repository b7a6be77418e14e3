// `edgellm info FILE.gguf [--json] [--full]`: metadata and tensor table of a GGUF file.
// Text output summarises long arrays and strings; --json prints one JSON document (arrays
// summarised unless --full).
// `edgellm info --cpu [--json]`: the CPU's features, the kernel levels compiled in, which of
// them this CPU runs (the values EDGELLM_ISA accepts here) and the one chosen.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/simd/cpu_features.h"
#include "kernels/simd/kernels.h"
#include "kernels/simd/stream_tuning.h"

namespace edgellm::cli {
namespace {

using gguf::Array;
using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;
using Json = nlohmann::ordered_json;

constexpr size_t kArrayPreviewItems = 8;   // items shown of a long array
constexpr size_t kStringPreviewBytes = 80;  // bytes shown of a long string in text output

struct InfoOptions {
  std::string path;
  bool json = false;
  bool full = false;
  bool cpu = false;
};

// A string as a quoted, escaped literal, cut after max_bytes (0: never) with a note of its size.
std::string quoted(const std::string& s, size_t max_bytes) {
  std::string out = "\"";
  const size_t shown = max_bytes && s.size() > max_bytes ? max_bytes : s.size();
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown < s.size()) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::string array_type_name(const Array& a) {
  return fmt::format("array[{}]", gguf::value_type_name(a.element_type()));
}

// Text of a value; unless `full`, long strings are cut (shorter inside arrays) and long arrays
// show their first items and their length.
std::string value_text(const Value& v, bool full, bool in_array = false) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return quoted(x, full ? 0 : in_array ? 24 : kStringPreviewBytes);
        } else if constexpr (std::is_same_v<T, Array>) {
          std::string out = "[";
          const size_t shown = full ? x.size() : std::min(x.size(), kArrayPreviewItems);
          for (size_t i = 0; i < shown; ++i) {
            if (i) out += ", ";
            out += value_text(x.at(i), full, true);
          }
          if (shown < x.size()) out += fmt::format(", ... ({} items)", x.size());
          return out + "]";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
          return fmt::format("{}", static_cast<int>(x));
        } else {
          return fmt::format("{}", x);  // floats: shortest text that reads back exactly
        }
      },
      v.data);
}

std::string shape_text(const gguf::TensorInfo& t) { return fmt::format("[{}]", fmt::join(t.dims, ", ")); }

void print_text(const GgufFile& f, const InfoOptions& opt) {
  fmt::print("file: {}\n", opt.path);
  fmt::print("GGUF v{}, {} bytes, alignment {}, data section at byte {}\n", f.version(),
             f.bytes().size(), f.alignment(), f.data_offset());
  fmt::print("\nmetadata ({} keys):\n", f.metadata().size());
  size_t key_width = 0;
  for (const auto& kv : f.metadata()) key_width = std::max(key_width, kv.key.size());
  for (const auto& kv : f.metadata()) {
    std::string type(gguf::value_type_name(kv.value.type()));
    if (const Array* a = std::get_if<Array>(&kv.value.data)) type = array_type_name(*a);
    fmt::print("  {:<{}}  {:<14} {}\n", kv.key, key_width, type,
               value_text(kv.value, opt.full));
  }

  uint64_t total = 0;
  size_t name_width = 4;
  for (const auto& t : f.tensors()) {
    total += t.n_bytes;
    name_width = std::max(name_width, t.name.size());
  }
  fmt::print("\ntensors ({}, {} bytes of data):\n", f.tensors().size(), total);
  if (f.tensors().empty()) return;
  fmt::print("  {:<{}}  {:<8} {:<24} {:>14} {:>14}\n", "name", name_width, "type", "shape", "bytes",
             "offset");
  for (const auto& t : f.tensors())
    fmt::print("  {:<{}}  {:<8} {:<24} {:>14} {:>14}\n", t.name, name_width, type_name(t.type),
               shape_text(t), t.n_bytes, t.offset);
}

Json value_json(const Value& v, bool full);

Json array_json(const Array& a, bool full) {
  Json items = Json::array();
  const size_t shown = full ? a.size() : std::min(a.size(), kArrayPreviewItems);
  for (size_t i = 0; i < shown; ++i) items.push_back(value_json(a.at(i), full));
  if (shown == a.size()) return items;
  // Summary of a long array: its type, length and first items.
  Json summary = Json::object();
  summary["type"] = array_type_name(a);
  summary["count"] = a.size();
  summary["first"] = std::move(items);
  return summary;
}

Json value_json(const Value& v, bool full) {
  return std::visit(
      [&](const auto& x) -> Json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Array>) {
          return array_json(x, full);
        } else if constexpr (std::is_same_v<T, float>) {
          // Through the shortest decimal text, so 1e-5f prints as 1e-05, not 9.99999974e-06.
          return std::isfinite(x) ? Json(std::stod(fmt::format("{}", x))) : Json(fmt::format("{}", x));
        } else if constexpr (std::is_same_v<T, double>) {
          return std::isfinite(x) ? Json(x) : Json(fmt::format("{}", x));
        } else {
          return Json(x);
        }
      },
      v.data);
}

void print_json(const GgufFile& f, const InfoOptions& opt) {
  Json doc = Json::object();
  doc["file"] = opt.path;
  doc["version"] = f.version();
  doc["size"] = f.bytes().size();
  doc["alignment"] = f.alignment();
  doc["data_offset"] = f.data_offset();
  Json metadata = Json::object();
  for (const auto& kv : f.metadata()) metadata[kv.key] = value_json(kv.value, opt.full);
  doc["metadata"] = std::move(metadata);
  Json tensors = Json::array();
  for (const auto& t : f.tensors()) {
    Json j = Json::object();
    j["name"] = t.name;
    j["type"] = type_name(t.type);
    j["shape"] = t.dims;
    j["n_elements"] = t.n_elements();
    j["n_bytes"] = t.n_bytes;
    j["offset"] = t.offset;
    j["file_offset"] = f.data_offset() + t.offset;
    tensors.push_back(std::move(j));
  }
  doc["tensors"] = std::move(tensors);
  // Metadata strings need not be UTF-8; replace bad bytes rather than fail on them.
  fmt::print("{}\n", doc.dump(2, ' ', false, Json::error_handler_t::replace));
}

void print_cpu(bool json) {
  const kernels::CpuFeatures& f = kernels::cpu_features();
  std::vector<std::string> usable;  // the EDGELLM_ISA values this CPU runs
  for (int i = 0; i < kernels::kNumIsas; ++i)
    if (kernels::for_isa(static_cast<kernels::Isa>(i)) != nullptr)
      usable.emplace_back(kernels::isa_name(static_cast<kernels::Isa>(i)));
  const char* forced = std::getenv("EDGELLM_ISA");
  const std::string active(kernels::isa_name(kernels::active().isa));  // throws for a bad EDGELLM_ISA
  const std::string best(kernels::isa_name(kernels::best_isa()));
  if (json) {
    Json doc = Json::object();
    doc["cpu"] = f.brand;
    doc["features"] = kernels::describe_cpu_features(f);
    doc["active_isa"] = active;
    doc["best_isa"] = best;
    doc["usable_isas"] = usable;
    doc["edgellm_isa"] = forced != nullptr ? Json(forced) : Json(nullptr);
    doc["decode_streaming"] = std::string(kernels::stream_tuning().name);
    fmt::print("{}\n", doc.dump(2));
    return;
  }
  fmt::print("{}\n", kernels::describe());
  fmt::print("best level for this CPU: {}\n", best);
  fmt::print("EDGELLM_ISA: {} (possible values here: {})\n", forced != nullptr && *forced ? forced : "unset",
             fmt::join(usable, ", "));
  std::vector<std::string_view> tunings;
  for (const auto& t : kernels::stream_tunings()) tunings.push_back(t.name);
  const char* tuning = std::getenv("EDGELLM_STREAM_TUNING");
  fmt::print("EDGELLM_STREAM_TUNING: {} (decode prefetch tuning; possible values: {})\n",
             tuning != nullptr && *tuning ? tuning : "unset", fmt::join(tunings, ", "));
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Show the metadata and tensors of a GGUF file, or the CPU (--cpu)");
  cmd->add_option("file", opt->path, "GGUF file");
  cmd->add_flag("--json", opt->json, "Print one JSON document");
  cmd->add_flag("--full", opt->full, "Do not summarise long arrays and strings");
  cmd->add_flag("--cpu", opt->cpu, "Show the CPU features and the SIMD kernel level chosen");
  cmd->callback([opt] {
    if (opt->cpu) {
      if (!opt->path.empty()) fail("info: give either FILE or --cpu, not both");
      print_cpu(opt->json);
      std::fflush(stdout);
      return;
    }
    if (opt->path.empty()) fail("info: give a GGUF FILE (or --cpu)");
    const GgufFile f = GgufFile::open(opt->path);
    if (opt->json) print_json(f, *opt);
    else print_text(f, *opt);
    std::fflush(stdout);
  });
}

const CommandRegistration kRegisterInfo(70, add_info_command);

}  // namespace edgellm::cli
