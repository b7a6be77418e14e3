// Internal to the parser: the recursive-descent Parser class, split across parser.cpp
// (statements) and parser_expr.cpp (expressions).
#pragma once

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/parser.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

std::string describe(const Token& t);  // how a token is named in error messages

class Parser {
 public:
  Parser(std::shared_ptr<Program> program, const ParseLimits& limits)
      : program_(std::move(program)), map_(program_->source), limits_(limits) {
    tokens_ = tokenize(program_->source, map_);
  }

  void run() {
    program_->body = parse_body({});
  }

 private:
  // --- token stream -------------------------------------------------------------------
  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t n = 1) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  const Token& advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(std::string_view op) const { return cur().type == TokenType::Operator && cur().value == op; }
  bool is_name(std::string_view name) const { return cur().type == TokenType::Name && cur().value == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void error_at(size_t offset, std::string_view what) const {
    fail("template syntax error at {}: {}", map_.describe(offset), what);
  }
  [[noreturn]] void unexpected(std::string_view expected) const {
    error_at(cur().offset, fmt::format("expected {}, got {}", expected, describe(cur())));
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) unexpected(fmt::format("'{}'", op));
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) unexpected("a name");
    return advance().value;
  }
  void expect_type(TokenType type, std::string_view what) {
    if (cur().type != type) unexpected(what);
    advance();
  }

  // Counts nesting (blocks and expressions) so hostile input cannot overflow the stack.
  struct DepthGuard {
    DepthGuard(Parser& p, size_t offset) : parser(p) {
      if (++parser.depth_ > parser.limits_.max_nesting) {
        parser.error_at(offset, fmt::format("template nested too deeply (limit {} levels)", parser.limits_.max_nesting));
      }
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  Body parse_body(std::initializer_list<std::string_view> end_tags, size_t opened_at = 0,
                  std::string_view opener = {});
  // After a tag's arguments: expects %}, parses the body, returns on the end tag name.
  Body parse_block_body(std::initializer_list<std::string_view> end_tags, size_t opened_at,
                        std::string_view opener);

  // --- statements (parser.cpp) ----------------------------------------------------------
  void parse_statement(Body& out);
  StmtPtr parse_for();
  StmtPtr parse_if();
  StmtPtr parse_set();
  StmtPtr parse_macro();
  StmtPtr parse_filter_block();
  StmtPtr parse_with();
  Target parse_target(bool allow_namespace, std::string_view end_name);
  Target parse_target_primary();

  // --- expressions (parser_expr.cpp) ------------------------------------------------------
  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens, std::string_view end_name);
  ExprPtr parse_expression();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_subscribed();
  CallArgExprs parse_call_args();
  ExprPtr parse_call(ExprPtr callee);
  std::string parse_dotted_name();
  FilterCall parse_filter_call();
  ExprPtr parse_filter_and_tests(ExprPtr node);
  ExprPtr parse_test(ExprPtr node);

  std::shared_ptr<Program> program_;
  SourceMap map_;
  ParseLimits limits_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  unsigned depth_ = 0;
  unsigned loop_depth_ = 0;
  unsigned soft_depth_ = 0;  // inside if/elif/else or an inline if: unknown filters fail late
  std::vector<MacroStmt*> macro_stack_;};

}  // namespace edgellm::chat::jinja
