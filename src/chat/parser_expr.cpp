// Expression grammar of the parser, with Jinja's precedence: conditional, or, and, not,
// comparisons, + -, ~, * / // %, **, unary - +, then postfix (. [] ()), filters and tests.
#include "chat/builtins.h"
#include "chat/parser_impl.h"

namespace edgellm::chat::jinja {

ExprPtr Parser::parse_tuple(bool with_condexpr, bool explicit_parens, std::string_view end_name) {
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


ExprPtr Parser::parse_expression() {
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


ExprPtr Parser::parse_or() {
  ExprPtr left = parse_and();
  while (is_name("or")) {
    const size_t at = advance().offset;
    left = std::make_unique<BinaryExpr>(at, BinaryOp::Or, std::move(left), parse_and());
  }
  return left;
}


ExprPtr Parser::parse_and() {
  ExprPtr left = parse_not();
  while (is_name("and")) {
    const size_t at = advance().offset;
    left = std::make_unique<BinaryExpr>(at, BinaryOp::And, std::move(left), parse_not());
  }
  return left;
}


ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(*this, cur().offset);
    const size_t at = advance().offset;
    return std::make_unique<UnaryExpr>(at, UnaryOp::Not, parse_not());
  }
  return parse_compare();
}


ExprPtr Parser::parse_compare() {
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


ExprPtr Parser::parse_math1() {
  ExprPtr left = parse_concat();
  while (is_op("+") || is_op("-")) {
    const Token& t = advance();
    const BinaryOp op = t.value == "+" ? BinaryOp::Add : BinaryOp::Sub;
    left = std::make_unique<BinaryExpr>(t.offset, op, std::move(left), parse_concat());
  }
  return left;
}


ExprPtr Parser::parse_concat() {
  const size_t at = cur().offset;
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto concat = std::make_unique<ConcatExpr>(at);
  concat->items.push_back(std::move(first));
  while (skip_op("~")) concat->items.push_back(parse_math2());
  return concat;
}


ExprPtr Parser::parse_math2() {
  ExprPtr left = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const Token& t = advance();
    const BinaryOp op = t.value == "*" ? BinaryOp::Mul : t.value == "/" ? BinaryOp::Div
                      : t.value == "//" ? BinaryOp::FloorDiv : BinaryOp::Mod;
    left = std::make_unique<BinaryExpr>(t.offset, op, std::move(left), parse_pow());
  }
  return left;
}


ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (is_op("**")) {
    const size_t at = advance().offset;
    left = std::make_unique<BinaryExpr>(at, BinaryOp::Pow, std::move(left), parse_unary(true));
  }
  return left;
}


ExprPtr Parser::parse_unary(bool with_filter) {
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


ExprPtr Parser::parse_primary() {
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


ExprPtr Parser::parse_list() {
  auto list = std::make_unique<SequenceExpr>(ExprKind::List, advance().offset);
  while (!is_op("]")) {
    if (!list->items.empty()) expect_op(",");
    if (is_op("]")) break;
    list->items.push_back(parse_expression());
  }
  expect_op("]");
  return list;
}


ExprPtr Parser::parse_dict() {
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


ExprPtr Parser::parse_postfix(ExprPtr node) {
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


ExprPtr Parser::parse_subscript(ExprPtr node) {
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


ExprPtr Parser::parse_subscribed() {
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


CallArgExprs Parser::parse_call_args() {
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


ExprPtr Parser::parse_call(ExprPtr callee) {
  auto call = std::make_unique<CallExpr>(cur().offset, std::move(callee));
  call->args = parse_call_args();
  return call;
}


std::string Parser::parse_dotted_name() {
  std::string name = expect_name();
  while (skip_op(".")) {
    name.push_back('.');
    name += expect_name();
  }
  return name;
}


FilterCall Parser::parse_filter_call() {
  FilterCall call;
  call.offset = cur().offset;
  call.name = parse_dotted_name();
  call.fn = find_filter(call.name);
  if (call.fn == nullptr && soft_depth_ == 0) error_at(call.offset, "no filter named '" + call.name + "'");
  if (is_op("(")) call.args = parse_call_args();
  return call;
}


ExprPtr Parser::parse_filter_and_tests(ExprPtr node) {
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


ExprPtr Parser::parse_test(ExprPtr node) {
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


}  // namespace edgellm::chat::jinja
