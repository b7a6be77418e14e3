#include "chat/interpreter.h"

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/lexer.h"
#include "chat/objects.h"
#include "chat/operators.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

// --- frames -------------------------------------------------------------------------------

const Value* Frame::find(std::string_view name) const {
  for (const Frame* f = this; f != nullptr; f = f->parent.get()) {
    for (const auto& [key, value] : f->vars) {
      if (key == name) return &value;
    }
  }
  return nullptr;
}

void Frame::set(std::string_view name, Value value) {
  for (auto& [key, existing] : vars) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

namespace {

FramePtr child_of(const FramePtr& parent) {
  auto frame = std::make_shared<Frame>();
  frame->parent = parent;
  return frame;
}

}  // namespace

// --- setup and limits ---------------------------------------------------------------------

Interpreter::Interpreter(const Program& program, const RenderOptions& options)
    : program_(program), options_(options) {}

Interpreter::DepthGuard::DepthGuard(Interpreter& in, size_t offset) : interp(in) {
  interp.current_offset_ = offset;
  if (++interp.eval_depth_ > interp.options_.limits.max_eval_depth) {
    --interp.eval_depth_;
    fail("template recursion too deep (more than {} nested levels)", interp.options_.limits.max_eval_depth);
  }
}

void Interpreter::charge(uint64_t amount) {
  work_ += amount;
  if (work_ > options_.limits.max_work_bytes) {
    fail("template did too much work (created more than {} bytes of data)", options_.limits.max_work_bytes);
  }
}

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > options_.limits.max_output_bytes) {
    fail("string of {} bytes exceeds the {} byte output limit", bytes, options_.limits.max_output_bytes);
  }
}

void Interpreter::count_iterations(uint64_t n) {
  iterations_ += n;
  if (iterations_ > options_.limits.max_loop_iterations) {
    fail("loops ran more than {} iterations in total", options_.limits.max_loop_iterations);
  }
}

std::tm Interpreter::now() const {
  if (options_.fixed_time) return *options_.fixed_time;
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  return local;
}

std::string Interpreter::render(const Value& context) {
  auto globals = std::make_shared<Frame>();
  for (auto& [name, value] : make_globals()) globals->set(name, std::move(value));
  auto top = child_of(globals);
  if (context.is_dict()) {
    for (const auto& [key, value] : context.as_dict().entries) {
      if (!key.is_string()) fail("template context keys must be strings, got {}", type_name(key));
      top->set(key.as_string(), value);
    }
  } else if (!context.is_none() && !context.is_undefined()) {
    fail("template context must be a JSON object, got {}", type_name(context));
  }
  std::string out;
  try {
    exec_body(program_.body, top, out);
  } catch (const Error& e) {
    pinned_frames_.clear();
    fail("chat template error at {}: {}", SourceMap(program_.source).describe(current_offset_), e.what());
  }
  pinned_frames_.clear();
  return out;
}

// --- statements ---------------------------------------------------------------------------

void Interpreter::emit(std::string& out, std::string_view text) {
  if (out.size() + text.size() > options_.limits.max_output_bytes) {
    fail("rendered output exceeds the {} byte limit", options_.limits.max_output_bytes);
  }
  charge(text.size());
  out.append(text);
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const FramePtr& frame, std::string& out) {
  for (const auto& stmt : body) {
    const Flow flow = exec(*stmt, frame, out);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  DepthGuard guard(*this, stmt.offset);
  switch (stmt.kind) {
    case StmtKind::Text: emit(out, static_cast<const TextStmt&>(stmt).text); return Flow::Normal;
    case StmtKind::Output: {
      const Value v = eval(*static_cast<const OutputStmt&>(stmt).expr, frame);
      emit(out, to_str(v, max_string_bytes()));
      return Flow::Normal;
    }
    case StmtKind::If: {
      const auto& node = static_cast<const IfStmt&>(stmt);
      for (const auto& [cond, body] : node.branches) {
        if (truthy(eval(*cond, frame))) return exec_body(body, frame, out);
      }
      return exec_body(node.else_body, frame, out);
    }
    case StmtKind::For: return exec_for(static_cast<const ForStmt&>(stmt), frame, out);
    case StmtKind::Set: {
      const auto& node = static_cast<const SetStmt&>(stmt);
      assign(node.target, eval(*node.value, frame), *frame);
      return Flow::Normal;
    }
    case StmtKind::SetBlock: exec_set_block(static_cast<const SetBlockStmt&>(stmt), frame); return Flow::Normal;
    case StmtKind::Macro: {
      const auto& node = static_cast<const MacroStmt&>(stmt);
      pinned_frames_.push_back(frame);
      frame->set(node.name, Value::object(std::make_shared<MacroObject>(node, *frame)));
      return Flow::Normal;
    }
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
    case StmtKind::FilterBlock: {
      const auto& node = static_cast<const FilterBlockStmt&>(stmt);
      std::string buffer;
      const Flow flow = exec_body(node.body, child_of(frame), buffer);
      Value value = Value::string(std::move(buffer));
      for (const auto& filter : node.filters) value = apply_filter_call(filter, value, frame);
      emit(out, to_str(value, max_string_bytes()));
      return flow;
    }
    case StmtKind::With: {
      const auto& node = static_cast<const WithStmt&>(stmt);
      auto scope = child_of(frame);
      for (size_t i = 0; i < node.targets.size(); ++i) assign(node.targets[i], eval(*node.values[i], frame), *scope);
      return exec_body(node.body, scope, out);
    }
    case StmtKind::Scope: return exec_body(static_cast<const ScopeStmt&>(stmt).body, child_of(frame), out);
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const ForStmt& stmt, const FramePtr& frame, std::string& out) {
  std::vector<Value> items = iterate(eval(*stmt.iterable, frame));
  if (stmt.filter) {
    std::vector<Value> kept;
    for (auto& item : items) {
      count_iterations(1);
      auto scope = child_of(frame);
      assign(stmt.target, item, *scope);
      if (truthy(eval(*stmt.filter, scope))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(stmt.else_body, child_of(frame), out);
  auto loop = std::make_shared<LoopObject>(std::move(items));
  const Value loop_value = Value::object(loop);
  for (size_t i = 0; i < loop->size(); ++i) {
    count_iterations(1);
    loop->set_index(i);
    auto scope = child_of(frame);
    scope->set("loop", loop_value);
    assign(stmt.target, loop->item(i), *scope);
    if (exec_body(stmt.body, scope, out) == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::exec_set_block(const SetBlockStmt& stmt, const FramePtr& frame) {
  std::string buffer;
  exec_body(stmt.body, child_of(frame), buffer);
  Value value = Value::string(std::move(buffer));
  for (const auto& filter : stmt.filters) value = apply_filter_call(filter, value, frame);
  assign(stmt.target, value, *frame);
}

void Interpreter::assign(const Target& target, const Value& value, Frame& frame) {
  switch (target.kind) {
    case Target::Kind::Name: frame.set(target.name, value); return;
    case Target::Kind::NamespaceAttr: {
      const Value* ns = frame.find(target.name);
      if (ns == nullptr || !ns->is_object() || ns->as_object().type_name() != "Namespace") {
        fail("cannot assign attribute '{}' on '{}': it is not a namespace", target.attr, target.name);
      }
      static_cast<NamespaceObject&>(ns->as_object()).set_attribute(target.attr, value);
      return;
    }
    case Target::Kind::Tuple: {
      const std::vector<Value> items = iterate(value);
      if (items.size() > target.items.size()) {
        fail("too many values to unpack (expected {})", target.items.size());
      }
      if (items.size() < target.items.size()) {
        fail("not enough values to unpack (expected {}, got {})", target.items.size(), items.size());
      }
      for (size_t i = 0; i < items.size(); ++i) assign(target.items[i], items[i], frame);
      return;
    }
  }
}

// --- calls --------------------------------------------------------------------------------

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail("{}", callee.undefined_hint());
  if (!callee.is_object() || !callee.as_object().callable()) {
    fail("'{}' object is not callable", type_name(callee));
  }
  return callee.object_ptr()->call(*this, args);
}

Value Interpreter::apply_filter(std::string_view name, const Value& input, CallArgs& args) {
  const FilterFn fn = find_filter(name);
  if (fn == nullptr) fail("no filter named '{}'", name);
  return fn(*this, input, args);
}

bool Interpreter::apply_test(std::string_view name, const Value& input, CallArgs& args) {
  const TestFn fn = find_test(name);
  if (fn == nullptr) fail("no test named '{}'", name);
  return fn(*this, input, args);
}

Value Interpreter::apply_filter_call(const FilterCall& call, const Value& input, const FramePtr& frame) {
  if (call.fn == nullptr) fail("no filter named '{}'", call.name);
  CallArgs args = eval_args(call.args, frame);
  return call.fn(*this, input, args);
}

CallArgs Interpreter::eval_args(const CallArgExprs& exprs, const FramePtr& frame) {
  CallArgs args;
  args.positional.reserve(exprs.positional.size());
  for (const auto& e : exprs.positional) args.positional.push_back(eval(*e, frame));
  for (const auto& [name, e] : exprs.keyword) args.keyword.emplace_back(name, eval(*e, frame));
  if (exprs.star_args) {
    for (auto& item : iterate(eval(*exprs.star_args, frame))) args.positional.push_back(std::move(item));
  }
  if (exprs.star_kwargs) {
    const Value mapping = eval(*exprs.star_kwargs, frame);
    if (!mapping.is_dict()) fail("argument after ** must be a mapping, not {}", type_name(mapping));
    for (const auto& [key, value] : mapping.as_dict().entries) {
      if (!key.is_string()) fail("keywords must be strings");
      args.keyword.emplace_back(key.as_string(), value);
    }
  }
  return args;
}

Value Interpreter::call_macro(const MacroStmt& macro, Frame& closure, CallArgs& args) {
  if (macro_depth_ >= options_.limits.max_macro_depth) {
    fail("macro '{}' called recursively more than {} levels deep", macro.name, options_.limits.max_macro_depth);
  }
  ++macro_depth_;
  struct Release {
    unsigned& depth;
    ~Release() { --depth; }
  } release{macro_depth_};

  auto scope = child_of(closure.shared_from_this());
  const size_t n_params = macro.params.size();
  std::vector<bool> bound(n_params, false);
  if (args.positional.size() > n_params && !macro.uses_varargs) {
    fail("macro '{}' takes not more than {} argument(s)", macro.name, n_params);
  }
  std::vector<Value> extra;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < n_params) {
      scope->set(macro.params[i], args.positional[i]);
      bound[i] = true;
    } else {
      extra.push_back(args.positional[i]);
    }
  }
  auto extra_kwargs = std::make_shared<DictData>();
  for (auto& [name, value] : args.keyword) {
    size_t index = n_params;
    for (size_t i = 0; i < n_params; ++i) {
      if (macro.params[i] == name) index = i;
    }
    if (index == n_params) {
      if (!macro.uses_kwargs) fail("macro '{}' takes no keyword argument '{}'", macro.name, name);
      extra_kwargs->set(Value::string(name), value);
      continue;
    }
    if (bound[index]) fail("macro '{}' got multiple values for argument '{}'", macro.name, name);
    scope->set(name, value);
    bound[index] = true;
  }
  const size_t first_default = n_params - macro.defaults.size();
  for (size_t i = 0; i < n_params; ++i) {
    if (bound[i]) continue;
    if (i >= first_default) {
      scope->set(macro.params[i], eval(*macro.defaults[i - first_default], scope));
    } else {
      scope->set(macro.params[i], Value::undefined(fmt::format("parameter '{}' was not provided", macro.params[i])));
    }
  }
  if (macro.uses_varargs) scope->set("varargs", Value::tuple(std::move(extra)));
  if (macro.uses_kwargs) scope->set("kwargs", Value::dict(std::move(extra_kwargs)));
  std::string out;
  exec_body(macro.body, scope, out);
  return Value::string(std::move(out));
}

// --- expressions --------------------------------------------------------------------------

Value Interpreter::eval(const Expr& expr, const FramePtr& frame) {
  DepthGuard guard(*this, expr.offset);
  switch (expr.kind) {
    case ExprKind::Literal: return static_cast<const LiteralExpr&>(expr).value;
    case ExprKind::Name: {
      const auto& name = static_cast<const NameExpr&>(expr).name;
      const Value* v = frame->find(name);
      return v != nullptr ? *v : Value::undefined(fmt::format("'{}' is undefined", name));
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      const auto& node = static_cast<const SequenceExpr&>(expr);
      std::vector<Value> items;
      items.reserve(node.items.size());
      for (const auto& item : node.items) items.push_back(eval(*item, frame));
      charge_items(items.size());
      return expr.kind == ExprKind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::Dict: {
      auto data = std::make_shared<DictData>();
      for (const auto& [key, value] : static_cast<const DictExpr&>(expr).items) {
        Value k = eval(*key, frame);
        data->set(std::move(k), eval(*value, frame));
      }
      charge_items(data->size());
      return Value::dict(std::move(data));
    }
    case ExprKind::GetAttr: {
      const auto& node = static_cast<const GetAttrExpr&>(expr);
      return get_attribute(eval(*node.object, frame), node.name);
    }
    case ExprKind::GetItem: {
      const auto& node = static_cast<const GetItemExpr&>(expr);
      const Value object = eval(*node.object, frame);
      if (node.index->kind == ExprKind::Slice) {
        const auto& s = static_cast<const SliceExpr&>(*node.index);
        auto part = [&](const ExprPtr& e) { return e ? eval(*e, frame) : Value::none(); };
        const Value start = part(s.start);
        const Value stop = part(s.stop);
        return slice_value(object, start, stop, part(s.step));
      }
      return get_item(object, eval(*node.index, frame));
    }
    case ExprKind::Slice: fail("a slice can only be used as a single subscript, as in x[1:2]");
    case ExprKind::Call: return eval_call(static_cast<const CallExpr&>(expr), frame);
    case ExprKind::Filter: {
      const auto& node = static_cast<const FilterExpr&>(expr);
      return apply_filter_call(node.call, eval(*node.operand, frame), frame);
    }
    case ExprKind::Test: {
      const auto& node = static_cast<const TestExpr&>(expr);
      const Value input = eval(*node.operand, frame);
      if (node.fn == nullptr) fail("no test named '{}'", node.name);
      CallArgs args = eval_args(node.args, frame);
      return Value::boolean(node.fn(*this, input, args));
    }
    case ExprKind::Unary: {
      const auto& node = static_cast<const UnaryExpr&>(expr);
      const Value v = eval(*node.operand, frame);
      if (node.op == UnaryOp::Not) return Value::boolean(!truthy(v));
      return node.op == UnaryOp::Neg ? unary_minus(v) : unary_plus(v);
    }
    case ExprKind::Binary: {
      const auto& node = static_cast<const BinaryExpr&>(expr);
      Value left = eval(*node.left, frame);
      if (node.op == BinaryOp::And) return truthy(left) ? eval(*node.right, frame) : left;
      if (node.op == BinaryOp::Or) return truthy(left) ? left : eval(*node.right, frame);
      const Value right = eval(*node.right, frame);
      return binary_op(*this, node.op, left, right);
    }
    case ExprKind::Concat: {
      std::string text;
      for (const auto& item : static_cast<const ConcatExpr&>(expr).items) {
        text += to_str(eval(*item, frame), max_string_bytes());
        check_string_size(text.size());
      }
      charge(text.size());
      return Value::string(std::move(text));
    }
    case ExprKind::Compare: return eval_compare(static_cast<const CompareExpr&>(expr), frame);
    case ExprKind::Conditional: {
      const auto& node = static_cast<const ConditionalExpr&>(expr);
      if (truthy(eval(*node.condition, frame))) return eval(*node.then_expr, frame);
      if (node.else_expr) return eval(*node.else_expr, frame);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
  }
  fail("internal error: unknown expression kind");
}

Value Interpreter::eval_call(const CallExpr& expr, const FramePtr& frame) {
  const Value callee = eval(*expr.callee, frame);
  CallArgs args = eval_args(expr.args, frame);
  current_offset_ = expr.offset;
  return call(callee, args);
}

Value Interpreter::eval_compare(const CompareExpr& expr, const FramePtr& frame) {
  Value left = eval(*expr.first, frame);
  for (const auto& [op, right_expr] : expr.rest) {
    Value right = eval(*right_expr, frame);
    bool ok = false;
    switch (op) {
      case CompareOp::Eq: ok = values_equal(left, right); break;
      case CompareOp::Ne: ok = !values_equal(left, right); break;
      case CompareOp::Lt: ok = compare_values(left, right) < 0; break;
      case CompareOp::Le: ok = compare_values(left, right) <= 0; break;
      case CompareOp::Gt: ok = compare_values(left, right) > 0; break;
      case CompareOp::Ge: ok = compare_values(left, right) >= 0; break;
      case CompareOp::In: ok = contains(right, left); break;
      case CompareOp::NotIn: ok = !contains(right, left); break;
    }
    if (!ok) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

}  // namespace edgellm::chat::jinja
