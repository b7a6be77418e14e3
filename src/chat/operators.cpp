#include "chat/operators.h"

#include <cmath>

#include "chat/builtins.h"
#include "chat/formatting.h"
#include "chat/interpreter.h"
#include "chat/objects.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::FloorDiv: return "//";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Pow: return "**";
    case BinaryOp::And: return "and";
    case BinaryOp::Or: return "or";
  }
  return "?";
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail("{}", a.undefined_hint());
  if (b.is_undefined()) fail("{}", b.undefined_hint());
  fail("unsupported operand type(s) for {}: '{}' and '{}'", op_symbol(op), type_name(a), type_name(b));
}

[[noreturn]] void overflow() { fail("integer overflow: the result does not fit in 64 bits"); }

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) fail("integer division or modulo by zero");
  if (a == INT64_MIN && b == -1) overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == 0) fail("integer division or modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double float_mod(double a, double b) {
  if (b == 0.0) fail("float modulo by zero");
  double r = std::fmod(a, b);
  if (r != 0.0 && ((r < 0) != (b < 0))) r += b;
  if (r == 0.0) r = std::copysign(0.0, b);
  return r;
}

// CPython's float floor division, so results agree to the last bit.
double float_floor_div(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0.0 && ((y < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, x / y);
  double floored = std::floor(div);
  if (div - floored > 0.5) floored += 1.0;
  return floored;
}

Value int_pow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 0) fail("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(static_cast<double>(base), static_cast<double>(exp)));
  }
  int64_t result = 1;
  int64_t b = base;
  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(result, b, &result)) overflow();
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(b, b, &b)) overflow();
  }
  return Value::integer(result);
}

Value repeat(Interpreter& interp, const Value& seq, const Value& count_value) {
  const int64_t count = std::max<int64_t>(0, count_value.to_int_exact());
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (count > 0 && s.size() > interp.max_string_bytes() / static_cast<uint64_t>(count)) {
      interp.check_string_size(interp.max_string_bytes() + 1);
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out += s;
    interp.charge(out.size());
    return Value::string(std::move(out));
  }
  const auto& items = seq.as_list().items;
  const uint64_t total = items.size() * static_cast<uint64_t>(count);
  if (count > 0 && !items.empty() && total / items.size() != static_cast<uint64_t>(count)) overflow();
  interp.charge_items(total);
  std::vector<Value> out;
  out.reserve(total);
  for (int64_t i = 0; i < count; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace

Value binary_op(Interpreter& interp, BinaryOp op, const Value& a, const Value& b) {
  const bool numbers = a.is_number() && b.is_number();
  const bool any_float = a.is_float() || b.is_float();
  switch (op) {
    case BinaryOp::Add:
      if (numbers) {
        if (any_float) return Value::number(a.to_double() + b.to_double());
        int64_t r = 0;
        if (__builtin_add_overflow(a.to_int_exact(), b.to_int_exact(), &r)) overflow();
        return Value::integer(r);
      }
      if (a.is_string() && b.is_string()) {
        interp.check_string_size(a.as_string().size() + b.as_string().size());
        interp.charge(a.as_string().size() + b.as_string().size());
        return Value::string(a.as_string() + b.as_string());
      }
      if (a.is_list_like() && b.is_list_like() && a.is_tuple() == b.is_tuple()) {
        std::vector<Value> items = a.as_list().items;
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        interp.charge_items(items.size());
        return a.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
      }
      unsupported(op, a, b);
    case BinaryOp::Sub:
      if (!numbers) unsupported(op, a, b);
      if (any_float) return Value::number(a.to_double() - b.to_double());
      {
        int64_t r = 0;
        if (__builtin_sub_overflow(a.to_int_exact(), b.to_int_exact(), &r)) overflow();
        return Value::integer(r);
      }
    case BinaryOp::Mul:
      if (numbers) {
        if (any_float) return Value::number(a.to_double() * b.to_double());
        int64_t r = 0;
        if (__builtin_mul_overflow(a.to_int_exact(), b.to_int_exact(), &r)) overflow();
        return Value::integer(r);
      }
      if ((a.is_string() || a.is_list_like()) && (b.is_int() || b.is_bool())) return repeat(interp, a, b);
      if ((b.is_string() || b.is_list_like()) && (a.is_int() || a.is_bool())) return repeat(interp, b, a);
      unsupported(op, a, b);
    case BinaryOp::Div:
      if (!numbers) unsupported(op, a, b);
      if (b.to_double() == 0.0) fail("division by zero");
      return Value::number(a.to_double() / b.to_double());
    case BinaryOp::FloorDiv:
      if (!numbers) unsupported(op, a, b);
      if (any_float) {
        if (b.to_double() == 0.0) fail("float floor division by zero");
        return Value::number(float_floor_div(a.to_double(), b.to_double()));
      }
      return Value::integer(floor_div(a.to_int_exact(), b.to_int_exact()));
    case BinaryOp::Mod:
      if (a.is_string()) return Value::string(percent_format(interp, a.as_string(), b));
      if (!numbers) unsupported(op, a, b);
      if (any_float) return Value::number(float_mod(a.to_double(), b.to_double()));
      return Value::integer(floor_mod(a.to_int_exact(), b.to_int_exact()));
    case BinaryOp::Pow:
      if (!numbers) unsupported(op, a, b);
      if (any_float) {
        if (a.to_double() == 0.0 && b.to_double() < 0) fail("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a.to_double(), b.to_double()));
      }
      return int_pow(a.to_int_exact(), b.to_int_exact());
    case BinaryOp::And:
    case BinaryOp::Or: break;
  }
  fail("internal error: operator {} is not arithmetic", op_symbol(op));
}

Value unary_minus(const Value& v) {
  if (v.is_float()) return Value::number(-v.as_float());
  if (v.is_int() || v.is_bool()) {
    const int64_t i = v.to_int_exact();
    if (i == INT64_MIN) overflow();
    return Value::integer(-i);
  }
  if (v.is_undefined()) fail("{}", v.undefined_hint());
  fail("bad operand type for unary -: '{}'", type_name(v));
}

Value unary_plus(const Value& v) {
  if (v.is_float() || v.is_int()) return v;
  if (v.is_bool()) return Value::integer(v.as_bool() ? 1 : 0);
  if (v.is_undefined()) fail("{}", v.undefined_hint());
  fail("bad operand type for unary +: '{}'", type_name(v));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& element : container.as_list().items) {
        if (values_equal(element, item)) return true;
      }
      return false;
    case Value::Kind::Dict:
      if (!is_hashable(item)) fail("unhashable type: '{}'", type_name(item));
      return container.as_dict().find(item) != nullptr;
    case Value::Kind::Undefined: return false;
    case Value::Kind::Object:
      if (auto* it = dynamic_cast<IteratorObject*>(&container.as_object())) {
        for (const auto& element : it->take()) {
          if (values_equal(element, item)) return true;
        }
        return false;
      }
      [[fallthrough]];
    default: fail("argument of type '{}' is not iterable", type_name(container));
  }
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::List: return v.as_list().items;
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().size());
      for (const auto& entry : v.as_dict().entries) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      const std::string& s = v.as_string();
      if (is_ascii(s)) {
        chars.reserve(s.size());
        for (char c : s) chars.push_back(Value::string(std::string(1, c)));
        return chars;
      }
      for (char32_t cp : decode_utf8(s)) {
        std::string one;
        append_utf8(one, cp);
        chars.push_back(Value::string(std::move(one)));
      }
      return chars;
    }
    case Value::Kind::Undefined: return {};
    case Value::Kind::Object:
      if (auto* it = dynamic_cast<IteratorObject*>(&v.as_object())) return it->take();
      [[fallthrough]];
    default: fail("'{}' object is not iterable", type_name(v));
  }
}

size_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return count_code_points(v.as_string());
    case Value::Kind::List: return v.as_list().items.size();
    case Value::Kind::Dict: return v.as_dict().size();
    case Value::Kind::Undefined: return 0;
    default: fail("object of type '{}' has no len()", type_name(v));
  }
}

}  // namespace edgellm::chat::jinja
