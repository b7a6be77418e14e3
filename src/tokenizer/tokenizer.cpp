#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/bpe.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_io.h"

namespace edgellm {

using tok::TokenType;
using tok::VocabModel;

struct Tokenizer::Impl {
  tok::Vocab vocab;
  tok::TokenIndex index;
  std::vector<TokenType> types;    // effective types: end-of-generation texts count as control
  std::vector<std::string> pieces;  // token_to_piece of every token
  std::vector<bool> end_of_generation;
  std::unique_ptr<tok::SpecialTokenSplitter> specials;
  std::unique_ptr<tok::RegexSplitter> splitter;
  std::unique_ptr<tok::BpeEncoder> bpe;
  std::unique_ptr<tok::SpmEncoder> spm;

  explicit Impl(tok::Vocab v) : vocab(std::move(v)) { build(); }
  void build();
  std::string make_piece(int32_t id) const;
  void check_id(int32_t id, std::string_view where) const {
    if (id < 0 || id >= vocab.size()) fail("{}: token id {} is outside the vocabulary of {} tokens", where, id, vocab.size());
  }
  bool hidden_as_special(int32_t id) const {
    return types[id] == TokenType::kControl || types[id] == TokenType::kUnknown;
  }
  void encode_bpe_text(std::string_view text, std::vector<int32_t>& out) const;
};

namespace {

// "<0xNN>" -> NN, anything else -> -1.
int parse_byte_token(std::string_view text) {
  const auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() != 6 || !text.starts_with("<0x") || text.back() != '>') return -1;
  const int high = hex(text[3]);
  const int low = hex(text[4]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

}  // namespace

std::string Tokenizer::Impl::make_piece(int32_t id) const {
  const std::string& text = vocab.tokens[id];
  switch (vocab.types[id]) {
    case TokenType::kNormal:
      if (vocab.model == VocabModel::kByteLevelBpe) return unicode::byte_level_decode(text);
      {
        std::string piece;
        for (size_t pos = 0; pos < text.size();) {
          if (text.compare(pos, unicode::kMetaspace.size(), unicode::kMetaspace) == 0) {
            piece += ' ';
            pos += unicode::kMetaspace.size();
          } else {
            piece += text[pos++];
          }
        }
        return piece;
      }
    case TokenType::kByte:
      if (const int byte = parse_byte_token(text); byte >= 0) return std::string(1, static_cast<char>(byte));
      return text;
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUserDefined:
      return text;
    default:  // unused / undefined render as nothing, as in llama.cpp
      return {};
  }
}

void Tokenizer::Impl::build() {
  index = tok::build_token_index(vocab);
  types = vocab.types;
  end_of_generation.assign(vocab.tokens.size(), false);
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (tok::is_end_of_generation_text(vocab.tokens[id])) {
      end_of_generation[id] = true;
      types[id] = TokenType::kControl;
    }
  }
  for (const int32_t id : {vocab.eos_id, vocab.eot_id, vocab.eom_id}) {
    if (id >= 0) end_of_generation[id] = true;
  }
  pieces.resize(vocab.tokens.size());
  for (int32_t id = 0; id < vocab.size(); ++id) pieces[id] = make_piece(id);
  specials = std::make_unique<tok::SpecialTokenSplitter>(vocab, types);
  if (vocab.model == VocabModel::kByteLevelBpe) {
    const tok::PreTokenizerSpec& spec = tok::find_pre_tokenizer(vocab.pre);
    splitter = std::make_unique<tok::RegexSplitter>(spec);
    bpe = std::make_unique<tok::BpeEncoder>(vocab, index, spec.ignore_merges);
  } else {
    spm = std::make_unique<tok::SpmEncoder>(vocab, index);
  }
}

namespace {

// Encodes the pieces of one text, remembering the ids of short pieces: natural text repeats its
// words constantly. The lookup happens as soon as the pre-tokenizer makes a short piece, so a
// repeated word also skips the later regexes of a chained pre-tokenizer.
class BpeTextSink final : public tok::PieceSink {
 public:
  BpeTextSink(std::string_view text, const tok::BpeEncoder& bpe, std::vector<int32_t>& out)
      : text_(text), bpe_(bpe), out_(out),
        // Short texts rarely repeat a piece; the cache's offsets are 32-bit.
        use_cache_(text.size() > 1024 && text.size() < (size_t{1} << 31)) {}

  Visit enter(size_t level, size_t offset, size_t length) override {
    // Pieces inside the one being remembered are not looked up: they came out different before.
    if (!use_cache_ || length > tok::PieceCache::kMaxPieceBytes || remembering_) return Visit::kSplit;
    // What becomes of a piece depends on the regexes still to come, so the level is in the key.
    tag_ = static_cast<uint16_t>(level);
    if (const auto ids = cache_.find(text_.substr(offset, length), tag_, &slot_)) {
      out_.insert(out_.end(), ids->begin(), ids->end());
      return Visit::kSkip;
    }
    remembering_ = true;
    first_id_ = out_.size();
    return Visit::kSplitThenLeave;
  }
  void leave(size_t offset, size_t length) override {
    // Nothing was inserted since enter(), so slot_ is still where the piece belongs.
    cache_.insert(text_.substr(offset, length), tag_, slot_, std::span<const int32_t>(out_).subspan(first_id_));
    remembering_ = false;
  }
  void piece(size_t offset, size_t length) override { bpe_.encode_piece(text_.substr(offset, length), out_, scratch_); }

 private:
  std::string_view text_;
  const tok::BpeEncoder& bpe_;
  std::vector<int32_t>& out_;
  bool use_cache_;
  tok::BpeScratch scratch_;
  tok::PieceCache cache_;
  bool remembering_ = false;
  size_t slot_ = 0;
  uint16_t tag_ = 0;
  size_t first_id_ = 0;
};

}  // namespace

void Tokenizer::Impl::encode_bpe_text(std::string_view text, std::vector<int32_t>& out) const {
  BpeTextSink sink(text, *bpe, out);
  splitter->split(text, sink);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_gguf(const gguf::GgufFile& file) {
  return Tokenizer(std::make_unique<Impl>(tok::load_vocab_from_gguf(file)));
}

Tokenizer Tokenizer::from_hf_files(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  return Tokenizer(std::make_unique<Impl>(tok::load_vocab_from_hf(tokenizer_json, tokenizer_config_json)));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && m.vocab.add_bos) out.push_back(m.vocab.bos_id);
  std::vector<tok::Fragment> fragments;
  m.specials->split(text, parse_special, fragments);
  if (m.vocab.model == VocabModel::kSentencePiece) {
    // The space prefix goes before the text at the start and after every special token.
    bool after_special = true;
    std::string escaped;
    for (const tok::Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
        after_special = true;
        continue;
      }
      escaped.clear();
      if (m.vocab.add_space_prefix && after_special) escaped += unicode::kMetaspace;
      for (const char c : text.substr(f.offset, f.length)) {
        if (c == ' ') {
          escaped += unicode::kMetaspace;
        } else {
          escaped += c;
        }
      }
      m.spm->encode(escaped, out);
      after_special = false;
    }
  } else {
    for (const tok::Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        m.encode_bpe_text(text.substr(f.offset, f.length), out);
      }
    }
  }
  if (add_special && m.vocab.add_eos) out.push_back(m.vocab.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  impl_->check_id(id, "token_to_piece");
  return impl_->pieces[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  // SentencePiece: the space that encoding put in front of the text is removed again (the
  // Hugging Face "Strip" decoder), but only when the output starts with a text token.
  bool at_start = true;
  for (const int32_t id : ids) {
    m.check_id(id, "decode");
    if (skip_special && m.hidden_as_special(id)) continue;
    std::string_view piece = m.pieces[id];
    if (at_start && !piece.empty()) {
      const TokenType t = m.vocab.types[id];
      if (m.vocab.model == VocabModel::kSentencePiece && m.vocab.add_space_prefix &&
          (t == TokenType::kNormal || t == TokenType::kByte) && piece.front() == ' ') {
        piece.remove_prefix(1);
      }
      at_start = false;
    }
    out.append(piece);
  }
  return out;
}

int32_t Tokenizer::n_vocab() const { return impl_->vocab.size(); }
int32_t Tokenizer::bos_id() const { return impl_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->vocab.eos_id; }

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && id < impl_->vocab.size() && impl_->end_of_generation[id];
}

const std::string& Tokenizer::chat_template() const { return impl_->vocab.chat_template; }

void Tokenizer::write_gguf_metadata(gguf::GgufWriter& writer) const { tok::write_vocab_to_gguf(impl_->vocab, writer); }

const std::string& Tokenizer::token_text(int32_t id) const {
  impl_->check_id(id, "token_text");
  return impl_->vocab.tokens[id];
}

int32_t Tokenizer::token_id(std::string_view text) const {
  const auto it = impl_->index.find(text);
  return it == impl_->index.end() ? -1 : it->second;
}

bool Tokenizer::is_special(int32_t id) const {
  impl_->check_id(id, "is_special");
  return impl_->hidden_as_special(id);
}

bool Tokenizer::add_bos() const { return impl_->vocab.add_bos; }
bool Tokenizer::add_eos() const { return impl_->vocab.add_eos; }
const char* Tokenizer::model_name() const {
  return impl_->vocab.model == VocabModel::kSentencePiece ? "llama" : "gpt2";
}
const std::string& Tokenizer::pre_name() const { return impl_->vocab.pre; }

void Tokenizer::pad_vocab_to(int32_t n) {
  tok::Vocab vocab = impl_->vocab;
  if (n <= vocab.size()) return;
  for (int32_t id = vocab.size(); id < n; ++id) {
    vocab.tokens.push_back(fmt::format("[PAD{}]", id));
    vocab.types.push_back(TokenType::kUnused);
    if (!vocab.scores.empty()) vocab.scores.push_back(-(static_cast<float>(vocab.merges.size()) + static_cast<float>(id)));
  }
  impl_ = std::make_unique<Impl>(std::move(vocab));
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tokenizer_.token_to_piece(id);
  const size_t ready = unicode::complete_utf8_prefix(pending_);
  std::string out = unicode::sanitize_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = unicode::sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace edgellm
