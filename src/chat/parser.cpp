#include "chat/parser.h"

#include <initializer_list>

#include "chat/builtins.h"
#include "chat/lexer.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

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
    error_at(cur().offset, "expected " + std::string(expected) + ", got " + describe(cur()));
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) unexpected("'" + std::string(op) + "'");
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
        parser.error_at(offset, "template nested too deeply (limit " +
                                    std::to_string(parser.limits_.max_nesting) + " levels)");
      }
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  // --- statements ---------------------------------------------------------------------

  // Parses template content until `{% <one of end_tags>`; leaves the stream on that name.
  Body parse_body(std::initializer_list<std::string_view> end_tags, size_t opened_at = 0,
                  std::string_view opener = {}) {
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

  // After a tag's arguments: expects %}, parses the body, returns on the end tag name.
  Body parse_block_body(std::initializer_list<std::string_view> end_tags, size_t opened_at,
                        std::string_view opener) {
    skip_op(":");
    expect_type(TokenType::BlockEnd, "end of statement block '%}'");
    return parse_body(end_tags, opened_at, opener);
  }

  void parse_statement(Body& out) {
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

  StmtPtr parse_for() {
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

  StmtPtr parse_if() {
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

  StmtPtr parse_set() {
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

  StmtPtr parse_macro() {
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

  StmtPtr parse_filter_block() {
    const size_t at = advance().offset;
    auto node = std::make_unique<FilterBlockStmt>(at);
    node->filters.push_back(parse_filter_call());
    while (skip_op("|")) node->filters.push_back(parse_filter_call());
    node->body = parse_block_body({"endfilter"}, at, "filter");
    advance();
    return node;
  }

  StmtPtr parse_with() {
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
  Target parse_target(bool allow_namespace, std::string_view end_name) {
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

  Target parse_target_primary() {
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

  // --- expressions --------------------------------------------------------------------

  // Expressions separated by commas form a tuple. `end_name` is an extra terminator (for
  // `for x in a, b recursive`).
  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens, std::string_view end_name) {
    const size_t at = cur().offset;
    auto tuple = std::make_unique<SequenceExpr>(ExprKind::Tuple, at);
    bool is_tuple = false;
    for (;;) {
      if (!tuple->items.empty()) expect_op(",");
      if (cur().type == TokenType::VariableEnd || cur().type == TokenType::BlockEnd || is_op(")") ||
          (!end_name.empty() && is_name(end_name))) {
        break;
      }
      tuple->items.push_back(with_condexpr ? parse_expression() : parse_or());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!tuple->items.empty()) return std::move(tuple->items[0]);
      if (!explicit_parens) unexpected("an expression");
    }
    return tuple;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this, cur().offset);
    const size_t at = cur().offset;
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      auto cond = std::make_unique<ConditionalExpr>(at);
      ++soft_depth_;
      cond->then_expr = std::move(expr);
      cond->condition = parse_or();
      if (skip_name("else")) cond->else_expr = parse_expression();
      --soft_depth_;
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const size_t at = advance().offset;
      left = std::make_unique<BinaryExpr>(at, BinaryOp::Or, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const size_t at = advance().offset;
      left = std::make_unique<BinaryExpr>(at, BinaryOp::And, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this, cur().offset);
      const size_t at = advance().offset;
      return std::make_unique<UnaryExpr>(at, UnaryOp::Not, parse_not());
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const size_t at = cur().offset;
    ExprPtr first = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    for (;;) {
      CompareOp op;
      if (cur().type == TokenType::Operator && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                                cur().value == "<=" || cur().value == ">" || cur().value == ">=")) {
        const std::string& v = cur().value;
        op = v == "==" ? CompareOp::Eq : v == "!=" ? CompareOp::Ne : v == "<" ? CompareOp::Lt
           : v == "<=" ? CompareOp::Le : v == ">" ? CompareOp::Gt : CompareOp::Ge;
        advance();
      } else if (is_name("in")) {
        op = CompareOp::In;
        advance();
      } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
        op = CompareOp::NotIn;
        advance();
        advance();
      } else {
        break;
      }
      if (!cmp) cmp = std::make_unique<CompareExpr>(at, std::move(first));
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (cmp) return cmp;
    return first;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = advance();
      const BinaryOp op = t.value == "+" ? BinaryOp::Add : BinaryOp::Sub;
      left = std::make_unique<BinaryExpr>(t.offset, op, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    const size_t at = cur().offset;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto concat = std::make_unique<ConcatExpr>(at);
    concat->items.push_back(std::move(first));
    while (skip_op("~")) concat->items.push_back(parse_math2());
    return concat;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = advance();
      const BinaryOp op = t.value == "*" ? BinaryOp::Mul : t.value == "/" ? BinaryOp::Div
                        : t.value == "//" ? BinaryOp::FloorDiv : BinaryOp::Mod;
      left = std::make_unique<BinaryExpr>(t.offset, op, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const size_t at = advance().offset;
      left = std::make_unique<BinaryExpr>(at, BinaryOp::Pow, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur().offset);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = advance();
      node = std::make_unique<UnaryExpr>(t.offset, t.value == "-" ? UnaryOp::Neg : UnaryOp::Pos, parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_and_tests(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::Name: {
        advance();
        if (t.value == "true" || t.value == "True") return std::make_unique<LiteralExpr>(t.offset, Value::boolean(true));
        if (t.value == "false" || t.value == "False") return std::make_unique<LiteralExpr>(t.offset, Value::boolean(false));
        if (t.value == "none" || t.value == "None") return std::make_unique<LiteralExpr>(t.offset, Value::none());
        if (!macro_stack_.empty() && t.value == "varargs") macro_stack_.back()->uses_varargs = true;
        if (!macro_stack_.empty() && t.value == "kwargs") macro_stack_.back()->uses_kwargs = true;
        return std::make_unique<NameExpr>(t.offset, t.value);
      }
      case TokenType::String: {
        std::string text;
        const size_t at = t.offset;
        while (cur().type == TokenType::String) text += advance().value;
        return std::make_unique<LiteralExpr>(at, Value::string(std::move(text)));
      }
      case TokenType::Integer: advance(); return std::make_unique<LiteralExpr>(t.offset, Value::integer(t.int_value));
      case TokenType::Float: advance(); return std::make_unique<LiteralExpr>(t.offset, Value::number(t.float_value));
      case TokenType::Operator:
        if (t.value == "(") {
          advance();
          ExprPtr inner = parse_tuple(true, true, {});
          expect_op(")");
          return inner;
        }
        if (t.value == "[") return parse_list();
        if (t.value == "{") return parse_dict();
        break;
      default: break;
    }
    error_at(t.offset, "unexpected " + describe(t));
  }

  ExprPtr parse_list() {
    auto list = std::make_unique<SequenceExpr>(ExprKind::List, advance().offset);
    while (!is_op("]")) {
      if (!list->items.empty()) expect_op(",");
      if (is_op("]")) break;
      list->items.push_back(parse_expression());
    }
    expect_op("]");
    return list;
  }

  ExprPtr parse_dict() {
    auto dict = std::make_unique<DictExpr>(advance().offset);
    while (!is_op("}")) {
      if (!dict->items.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = parse_expression();
      expect_op(":");
      dict->items.emplace_back(std::move(key), parse_expression());
    }
    expect_op("}");
    return dict;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".")) {
        const size_t at = advance().offset;
        if (cur().type == TokenType::Name) {
          node = std::make_unique<GetAttrExpr>(at, std::move(node), advance().value);
        } else if (cur().type == TokenType::Integer) {
          auto index = std::make_unique<LiteralExpr>(cur().offset, Value::integer(cur().int_value));
          advance();
          node = std::make_unique<GetItemExpr>(at, std::move(node), std::move(index));
        } else {
          unexpected("a name or number after '.'");
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const size_t at = advance().offset;
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.empty()) error_at(at, "expected a subscript expression");
    ExprPtr index;
    if (args.size() == 1) {
      index = std::move(args[0]);
    } else {
      auto tuple = std::make_unique<SequenceExpr>(ExprKind::Tuple, at);
      tuple->items = std::move(args);
      index = std::move(tuple);
    }
    return std::make_unique<GetItemExpr>(at, std::move(node), std::move(index));
  }

  ExprPtr parse_subscribed() {
    const size_t at = cur().offset;
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression();
      if (!is_op(":")) return start;
    }
    advance();  // ':'
    auto slice = std::make_unique<SliceExpr>(at);
    slice->start = std::move(start);
    if (!is_op(":") && !is_op("]") && !is_op(",")) slice->stop = parse_expression();
    if (skip_op(":")) {
      if (!is_op("]") && !is_op(",")) slice->step = parse_expression();
    }
    return slice;
  }

  CallArgExprs parse_call_args() {
    const size_t at = cur().offset;
    expect_op("(");
    CallArgExprs args;
    bool need_comma = false;
    for (;;) {
      if (is_op(")")) break;
      if (need_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      auto invalid = [&] { error_at(at, "invalid syntax for function call expression"); };
      if (is_op("*")) {
        if (args.star_args || args.star_kwargs) invalid();
        advance();
        args.star_args = parse_expression();
      } else if (is_op("**")) {
        if (args.star_kwargs) invalid();
        advance();
        args.star_kwargs = parse_expression();
      } else if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().value == "=") {
        if (args.star_kwargs) invalid();
        std::string key = advance().value;
        advance();
        args.keyword.emplace_back(std::move(key), parse_expression());
      } else {
        if (args.star_args || args.star_kwargs || !args.keyword.empty()) invalid();
        args.positional.push_back(parse_expression());
      }
      need_comma = true;
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = std::make_unique<CallExpr>(cur().offset, std::move(callee));
    call->args = parse_call_args();
    return call;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) {
      name.push_back('.');
      name += expect_name();
    }
    return name;
  }

  FilterCall parse_filter_call() {
    FilterCall call;
    call.offset = cur().offset;
    call.name = parse_dotted_name();
    call.fn = find_filter(call.name);
    if (call.fn == nullptr && soft_depth_ == 0) error_at(call.offset, "no filter named '" + call.name + "'");
    if (is_op("(")) call.args = parse_call_args();
    return call;
  }

  ExprPtr parse_filter_and_tests(ExprPtr node) {
    for (;;) {
      if (is_op("|")) {
        const size_t at = advance().offset;
        auto filter = std::make_unique<FilterExpr>(at, std::move(node));
        filter->call = parse_filter_call();
        node = std::move(filter);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    const size_t at = advance().offset;
    const bool negated = skip_name("not");
    auto test = std::make_unique<TestExpr>(at, std::move(node));
    const size_t name_at = cur().offset;
    test->name = parse_dotted_name();
    test->fn = find_test(test->name);
    if (test->fn == nullptr && soft_depth_ == 0) error_at(name_at, "no test named '" + test->name + "'");
    const TokenType t = cur().type;
    const bool arg_starts = t == TokenType::Name || t == TokenType::String || t == TokenType::Integer ||
                            t == TokenType::Float || is_op("[") || is_op("{");
    if (is_op("(")) {
      test->args = parse_call_args();
    } else if (arg_starts && !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error_at(cur().offset, "you cannot chain multiple tests with 'is'");
      test->args.positional.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return test;
    return std::make_unique<UnaryExpr>(at, UnaryOp::Not, std::move(test));
  }

  std::shared_ptr<Program> program_;
  SourceMap map_;
  ParseLimits limits_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  unsigned depth_ = 0;
  unsigned loop_depth_ = 0;
  unsigned soft_depth_ = 0;  // inside if/elif/else or an inline if: unknown filters fail late
  std::vector<MacroStmt*> macro_stack_;
};

}  // namespace

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
