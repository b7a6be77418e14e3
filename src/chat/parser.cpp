#include <initializer_list>

#include "chat/parser_impl.h"
#include "chat/text.h"

namespace edgellm::chat::jinja {

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::Data: return "template data";
    case TokenType::VariableBegin: return "'{{'";
    case TokenType::VariableEnd: return "end of print statement '}}'";
    case TokenType::BlockBegin: return "'{%'";
    case TokenType::BlockEnd: return "end of statement block '%}'";
    case TokenType::Name: return "'" + t.value + "'";
    case TokenType::String: return "string literal";
    case TokenType::Integer: return "integer literal";
    case TokenType::Float: return "float literal";
    case TokenType::Operator: return "'" + t.value + "'";
    case TokenType::Eof: return "end of template";
  }
  return "token";
}

Body Parser::parse_body(std::initializer_list<std::string_view> end_tags, size_t opened_at,
                        std::string_view opener) {
  DepthGuard guard(*this, cur().offset);
  Body body;
  for (;;) {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::Data:
        body.push_back(std::make_unique<TextStmt>(t.offset, t.value));
        advance();
        break;
      case TokenType::VariableBegin: {
        advance();
        auto expr = parse_tuple(true, false, {});
        body.push_back(std::make_unique<OutputStmt>(t.offset, std::move(expr)));
        expect_type(TokenType::VariableEnd, "'}}'");
        break;
      }
      case TokenType::BlockBegin: {
        const Token& tag = peek();
        if (tag.type == TokenType::Name) {
          for (std::string_view end : end_tags) {
            if (tag.value == end) {
              advance();
              return body;
            }
          }
        }
        advance();
        parse_statement(body);
        expect_type(TokenType::BlockEnd, "end of statement block '%}'");
        break;
      }
      case TokenType::Eof:
        if (end_tags.size() != 0) {
          std::string expected;
          for (std::string_view end : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(end) + "'";
          error_at(t.offset, "unexpected end of template: expected " + expected + " to close the '" +
                                 std::string(opener) + "' opened at " + map_.describe(opened_at));
        }
        return body;
      default: error_at(t.offset, "unexpected " + describe(t));
    }
  }
}

Body Parser::parse_block_body(std::initializer_list<std::string_view> end_tags, size_t opened_at,
                              std::string_view opener) {
  skip_op(":");
  expect_type(TokenType::BlockEnd, "end of statement block '%}'");
  return parse_body(end_tags, opened_at, opener);
}

void Parser::parse_statement(Body& out) {
  const Token& tag = cur();
  if (tag.type != TokenType::Name) error_at(tag.offset, "tag name expected after '{%'");
  const std::string name = tag.value;
  const size_t at = tag.offset;
  if (name == "for") return out.push_back(parse_for());
  if (name == "if") return out.push_back(parse_if());
  if (name == "set") return out.push_back(parse_set());
  if (name == "macro") return out.push_back(parse_macro());
  if (name == "filter") return out.push_back(parse_filter_block());
  if (name == "with") return out.push_back(parse_with());
  if (name == "generation") {
    advance();
    auto scope = std::make_unique<ScopeStmt>(at);
    scope->body = parse_block_body({"endgeneration"}, at, "generation");
    advance();
    return out.push_back(std::move(scope));
  }
  if (name == "break" || name == "continue") {
    if (loop_depth_ == 0) error_at(at, "'" + name + "' outside of a loop");
    advance();
    return out.push_back(std::make_unique<Stmt>(name == "break" ? StmtKind::Break : StmtKind::Continue, at));
  }
  if (name == "print") {
    advance();
    bool first = true;
    while (cur().type != TokenType::BlockEnd) {
      if (!first) expect_op(",");
      first = false;
      out.push_back(std::make_unique<OutputStmt>(at, parse_expression()));
    }
    return;
  }
  if (name == "include" || name == "import" || name == "from" || name == "extends" || name == "block") {
    error_at(at, "'{% " + name + " %}' is not supported: chat templates are rendered on their own and "
                 "cannot load or define other templates");
  }
  if (name == "call") error_at(at, "'{% call %}' blocks are not supported");
  if (name == "do") {
    error_at(at, "unknown tag 'do' (the 'do' extension is not enabled, as in Hugging Face's template "
                 "environment)");
  }
  error_at(at, "unknown tag '" + name + "'");
}


StmtPtr Parser::parse_for() {
  const size_t at = advance().offset;
  auto node = std::make_unique<ForStmt>(at);
  node->target = parse_target(false, "in");
  if (!skip_name("in")) unexpected("'in'");
  node->iterable = parse_tuple(false, false, "recursive");
  if (skip_name("if")) node->filter = parse_expression();
  if (is_name("recursive")) error_at(cur().offset, "recursive loops are not supported");
  ++loop_depth_;
  node->body = parse_block_body({"endfor", "else"}, at, "for");
  --loop_depth_;
  if (advance().value == "else") {
    node->else_body = parse_block_body({"endfor"}, at, "for");
    advance();
  }
  return node;
}


StmtPtr Parser::parse_if() {
  const size_t at = advance().offset;
  auto node = std::make_unique<IfStmt>(at);
  ++soft_depth_;
  for (;;) {
    ExprPtr cond = parse_tuple(false, false, {});
    Body body = parse_block_body({"elif", "else", "endif"}, at, "if");
    node->branches.emplace_back(std::move(cond), std::move(body));
    const std::string tag = advance().value;
    if (tag == "elif") continue;
    if (tag == "else") {
      node->else_body = parse_block_body({"endif"}, at, "if");
      advance();
    }
    break;
  }
  --soft_depth_;
  return node;
}


StmtPtr Parser::parse_set() {
  const size_t at = advance().offset;
  Target target = parse_target(true, {});
  if (skip_op("=")) {
    auto node = std::make_unique<SetStmt>(at);
    node->target = std::move(target);
    node->value = parse_tuple(true, false, {});
    return node;
  }
  auto node = std::make_unique<SetBlockStmt>(at);
  node->target = std::move(target);
  while (skip_op("|")) node->filters.push_back(parse_filter_call());
  node->body = parse_block_body({"endset"}, at, "set");
  advance();
  return node;
}


StmtPtr Parser::parse_macro() {
  const size_t at = advance().offset;
  auto node = std::make_unique<MacroStmt>(at);
  node->name = expect_name();
  expect_op("(");
  while (!is_op(")")) {
    if (!node->params.empty()) expect_op(",");
    if (is_op(")")) break;
    node->params.push_back(expect_name());
    if (skip_op("=")) {
      node->defaults.push_back(parse_expression());
    } else if (!node->defaults.empty()) {
      error_at(cur().offset, "non-default argument follows default argument");
    }
  }
  expect_op(")");
  macro_stack_.push_back(node.get());
  const unsigned saved_loops = loop_depth_;
  loop_depth_ = 0;  // a macro body is its own function: break cannot leave it
  node->body = parse_block_body({"endmacro"}, at, "macro");
  loop_depth_ = saved_loops;
  macro_stack_.pop_back();
  advance();
  return node;
}


StmtPtr Parser::parse_filter_block() {
  const size_t at = advance().offset;
  auto node = std::make_unique<FilterBlockStmt>(at);
  node->filters.push_back(parse_filter_call());
  while (skip_op("|")) node->filters.push_back(parse_filter_call());
  node->body = parse_block_body({"endfilter"}, at, "filter");
  advance();
  return node;
}


StmtPtr Parser::parse_with() {
  const size_t at = advance().offset;
  auto node = std::make_unique<WithStmt>(at);
  while (cur().type != TokenType::BlockEnd) {
    if (!node->targets.empty()) expect_op(",");
    node->targets.push_back(parse_target(false, {}));
    expect_op("=");
    node->values.push_back(parse_expression());
  }
  node->body = parse_block_body({"endwith"}, at, "with");
  advance();
  return node;
}

// Assignment targets: `x`, `a, b`, `(a, b), c`, and with allow_namespace `ns.attr`.

Target Parser::parse_target(bool allow_namespace, std::string_view end_name) {
  const size_t at = cur().offset;
  if (allow_namespace && cur().type == TokenType::Name && peek().type == TokenType::Operator &&
      peek().value == ".") {
    Target t;
    t.kind = Target::Kind::NamespaceAttr;
    t.offset = at;
    t.name = advance().value;
    advance();
    t.attr = expect_name();
    return t;
  }
  Target tuple;
  tuple.kind = Target::Kind::Tuple;
  tuple.offset = at;
  bool saw_comma = false;
  for (;;) {
    if (!tuple.items.empty()) {
      if (!skip_op(",")) break;
      saw_comma = true;
    }
    if (cur().type == TokenType::BlockEnd || is_op("=") || is_op("|") ||
        (!end_name.empty() && is_name(end_name))) {
      break;
    }
    tuple.items.push_back(parse_target_primary());
  }
  if (tuple.items.empty()) unexpected("an assignment target");
  if (tuple.items.size() == 1 && !saw_comma) return std::move(tuple.items[0]);
  return tuple;
}


Target Parser::parse_target_primary() {
  DepthGuard guard(*this, cur().offset);
  if (skip_op("(")) {
    Target inner = parse_target(false, {});
    expect_op(")");
    return inner;
  }
  if (cur().type != TokenType::Name) error_at(cur().offset, "can't assign to " + describe(cur()));
  const std::string& n = cur().value;
  if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None") {
    error_at(cur().offset, "can't assign to a constant");
  }
  Target t;
  t.offset = cur().offset;
  t.name = advance().value;
  return t;
}


std::shared_ptr<const Program> parse_template(std::string_view source, const ParseLimits& limits) {
  if (source.size() > limits.max_source_bytes) {
    fail("chat template is {} bytes, more than the {} byte limit", source.size(), limits.max_source_bytes);
  }
  auto program = std::make_shared<Program>();
  program->source = normalize_template_source(source);
  const size_t bad = find_invalid_utf8(program->source);
  if (bad != std::string::npos) {
    fail("template is not valid UTF-8 at {}", SourceMap(program->source).describe(bad));
  }
  Parser parser(program, limits);
  parser.run();
  return program;
}

}  // namespace edgellm::chat::jinja
