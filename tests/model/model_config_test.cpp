// RoPE settings both ways: what read_llama_style_config takes from GGUF metadata (llama.cpp's
// loader rules: default type, the old rope.scale_linear key, fixed YaRN betas, rope_freqs) and
// what the converter writes from config.json (YaRN attention factor folded into
// rope.scaling.attn_factor, and the settings it must refuse).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/hf_convert.h"
#include "model/model_config.h"
#include "model/model_test_util.h"

namespace edgellm::test {
namespace {

namespace key = gguf::key;
using kernels::RopeScaling;

// The config of a tiny llama GGUF whose extra keys are set by `extra`.
model::ModelConfig config_with(const std::function<void(gguf::GgufWriter&)>& extra) {
  TinyGgufOptions o;
  o.extra_metadata = extra;
  const std::vector<uint8_t> bytes = make_tiny_gguf(o);
  const gguf::GgufFile f = gguf::GgufFile::from_buffer(bytes);
  return model::read_llama_style_config(f, "llama");
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ModelConfigRope, NoScalingByDefault) {
  const auto c = config_with({});
  EXPECT_EQ(c.rope.scaling, RopeScaling::None);
  EXPECT_EQ(c.rope.attn_factor, 1.0);
  EXPECT_TRUE(c.rope.freq_factors.empty());
}

TEST(ModelConfigRope, MissingTypeMeansLinearAsInLlamaCpp) {
  // llama.cpp defaults rope.scaling.type to "linear" and falls back to the old key.
  auto c = config_with([](gguf::GgufWriter& w) { w.set_f32("llama.rope.scale_linear", 2.0f); });
  EXPECT_EQ(c.rope.scaling, RopeScaling::Linear);
  EXPECT_EQ(c.rope.scaling_factor, 2.0);
  c = config_with([](gguf::GgufWriter& w) { w.set_f32("llama.rope.scaling.factor", 3.0f); });
  EXPECT_EQ(c.rope.scaling, RopeScaling::Linear);
  EXPECT_EQ(c.rope.scaling_factor, 3.0);
  // The new key wins over the old one, and "none" ignores any factor.
  c = config_with([](gguf::GgufWriter& w) {
    w.set_f32("llama.rope.scaling.factor", 4.0f);
    w.set_f32("llama.rope.scale_linear", 8.0f);
  });
  EXPECT_EQ(c.rope.scaling_factor, 4.0);
  c = config_with([](gguf::GgufWriter& w) {
    w.set_string("llama.rope.scaling.type", "none");
    w.set_f32("llama.rope.scaling.factor", 4.0f);
  });
  EXPECT_EQ(c.rope.scaling, RopeScaling::None);
}

TEST(ModelConfigRope, YarnKeys) {
  const auto c = config_with([](gguf::GgufWriter& w) {
    w.set_string("llama.rope.scaling.type", "yarn");
    w.set_f32("llama.rope.scaling.factor", 4.0f);
    w.set_u32("llama.rope.scaling.original_context_length", 16);
    w.set_f32("llama.rope.scaling.attn_factor", 0.5f);
    // llama.cpp's llama loader does not read these: it runs with 32 and 1.
    w.set_f32("llama.rope.scaling.yarn_beta_fast", 16.0f);
    w.set_f32("llama.rope.scaling.yarn_beta_slow", 2.0f);
  });
  EXPECT_EQ(c.rope.scaling, RopeScaling::Yarn);
  EXPECT_EQ(c.rope.scaling_factor, 4.0);
  EXPECT_EQ(c.rope.n_ctx_orig, 16);
  EXPECT_EQ(c.rope.attn_factor, 0.5);
  EXPECT_EQ(c.rope.yarn_beta_fast, 32.0);
  EXPECT_EQ(c.rope.yarn_beta_slow, 1.0);
  // Without the original context, the training context is the original.
  const auto d = config_with([](gguf::GgufWriter& w) {
    w.set_string("llama.rope.scaling.type", "yarn");
    w.set_f32("llama.rope.scaling.factor", 2.0f);
  });
  EXPECT_EQ(d.rope.n_ctx_orig, d.n_ctx_train);
}

TEST(ModelConfigRope, BadSettingsAreClearErrors) {
  EXPECT_NE(error_of([] {
              config_with([](gguf::GgufWriter& w) { w.set_string("llama.rope.scaling.type", "longrope"); });
            }).find("unsupported llama.rope.scaling.type 'longrope'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_with([](gguf::GgufWriter& w) {
                w.set_string("llama.rope.scaling.type", "yarn");
                w.set_f32("llama.rope.scaling.factor", 0.5f);
              });
            }).find("must be at least 1 for YaRN"),
            std::string::npos);
  EXPECT_NE(error_of([] { config_with([](gguf::GgufWriter& w) { w.set_f32("llama.rope.scale_linear", -2.0f); }); })
                .find("llama.rope.scale_linear = -2 must be positive"),
            std::string::npos);
  // rope_freqs must hold head_dim/2 (here 32/4/2 = 4) positive factors.
  const auto freqs = [](std::vector<float> v) {
    return [v](gguf::GgufWriter& w) {
      std::vector<uint8_t> bytes(v.size() * 4);
      std::memcpy(bytes.data(), v.data(), bytes.size());
      w.add_tensor(std::string(gguf::tensor::kRopeFreqs), TensorType::F32, {static_cast<int64_t>(v.size())}, bytes);
    };
  };
  EXPECT_EQ(config_with(freqs({1, 2, 4, 8})).rope.freq_factors, (std::vector<float>{1, 2, 4, 8}));
  EXPECT_NE(error_of([&] { config_with(freqs({1, 2, 4})); }).find("rope.dimension_count/2 = 4"), std::string::npos);
}

// --- converter side ---------------------------------------------------------------------------

nlohmann::json base_hf_config() {
  return nlohmann::json::parse(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
      "num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":96,
      "max_position_embeddings":128,"vocab_size":300,"rms_norm_eps":1e-5,"rope_theta":10000.0})");
}

gguf::GgufFile metadata_of(const nlohmann::json& config, std::vector<uint8_t>& storage) {
  gguf::GgufWriter w;
  model::write_llama_style_metadata("llama", config, w);
  storage = w.write_buffer();
  return gguf::GgufFile::from_buffer(storage);
}

double attn_factor_written(const nlohmann::json& rope_scaling) {
  nlohmann::json c = base_hf_config();
  c["rope_scaling"] = rope_scaling;
  std::vector<uint8_t> storage;
  const gguf::GgufFile f = metadata_of(c, storage);
  EXPECT_EQ(f.get_string("llama.rope.scaling.type"), "yarn");
  EXPECT_EQ(f.get_int("llama.rope.scaling.original_context_length"), 32);
  return f.get_float_or("llama.rope.scaling.attn_factor", 1.0);
}

TEST(HfConvertRope, YarnAttentionFactorBecomesRopeAttnFactor) {
  // llama.cpp multiplies cos/sin by get_mscale(4) = 1 + 0.1 ln 4 itself: HF's default needs no
  // key, an explicit attention_factor A is stored as A / get_mscale(4), and mscale /
  // mscale_all_dim as get_mscale(4, m) / get_mscale(4, m_all) / get_mscale(4).
  const double g = 1.0 + 0.1 * std::log(4.0);
  EXPECT_DOUBLE_EQ(attn_factor_written({{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32}}), 1.0);
  EXPECT_NEAR(attn_factor_written({{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32},
                                   {"attention_factor", 0.8}}),
              0.8 / g, 1e-7);
  EXPECT_NEAR(attn_factor_written({{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32},
                                   {"mscale", 1.0}, {"mscale_all_dim", 0.5}}),
              1.0 / (1.0 + 0.05 * std::log(4.0)), 1e-7);
  // Only one of the two: HF's default.
  EXPECT_DOUBLE_EQ(attn_factor_written({{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32},
                                        {"mscale", 0.7}}),
                   1.0);
}

TEST(HfConvertRope, RopeThetaInRopeParameters) {
  nlohmann::json c = base_hf_config();
  c.erase("rope_theta");
  c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
  std::vector<uint8_t> storage;
  const gguf::GgufFile f = metadata_of(c, storage);
  EXPECT_EQ(f.get_float("llama.rope.freq_base"), 500000.0);
  EXPECT_EQ(f.find("llama.rope.scaling.type"), nullptr);
}

TEST(HfConvertRope, RefusesWhatLlamaCppCannotRun) {
  const auto error_for = [](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json c = base_hf_config();
    edit(c);
    std::vector<uint8_t> storage;
    return error_of([&] { metadata_of(c, storage); });
  };
  const auto yarn = [](nlohmann::json extra) {
    nlohmann::json rs = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32}};
    rs.update(extra);
    return rs;
  };
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string message;
  };
  const Case cases[] = {
      {[](auto& c) { c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; },
       "rope_scaling type 'dynamic' is not supported for llama (supported: linear, yarn)"},
      {[](auto& c) { c["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}}; },
       "rope_scaling type 'longrope' is not supported"},
      {[&](auto& c) { c["rope_scaling"] = yarn({{"beta_fast", 16}}); }, "YaRN beta_fast = 16 is not supported"},
      {[&](auto& c) { c["rope_scaling"] = yarn({{"beta_slow", 2}}); }, "YaRN beta_slow = 2 is not supported"},
      {[&](auto& c) { c["rope_scaling"] = yarn({{"truncate", false}}); }, "truncate = false"},
      {[&](auto& c) { c["rope_scaling"] = yarn({{"factor", 0.5}}); }, "must be at least 1"},
      {[](auto& c) { c["rope_scaling"] = {{"type", "linear"}}; }, "needs a positive 'factor'"},
      {[](auto& c) { c["sliding_window"] = 64; }, "sliding_window = 64 is smaller than max_position_embeddings = 128"},
      {[](auto& c) {
         c["use_sliding_window"] = true;
         c["sliding_window"] = 32;
       },
       "sliding_window = 32"},
      {[](auto& c) { c["mlp_bias"] = true; }, "mlp_bias = true is not supported"},
      {[](auto& c) { c["partial_rotary_factor"] = 0.5; }, "partial_rotary_factor is not supported"},
  };
  for (const Case& k : cases) EXPECT_NE(error_for(k.edit).find(k.message), std::string::npos) << k.message << "\n" << error_for(k.edit);
  // Windows that never bind, or are switched off (Qwen2), and HF's 0 = default betas are fine.
  for (const auto& edit : std::vector<std::function<void(nlohmann::json&)>>{
           [](auto& c) { c["sliding_window"] = nullptr; }, [](auto& c) { c["sliding_window"] = 128; },
           [](auto& c) {
             c["use_sliding_window"] = false;
             c["sliding_window"] = 32;
           },
           [&](auto& c) { c["rope_scaling"] = yarn({{"beta_fast", 32}, {"beta_slow", 0}}); }})
    EXPECT_EQ(error_for(edit), "(no error)");
}

}  // namespace
}  // namespace edgellm::test
