// Jinja2's tests (`x is defined`, `n is divisibleby 3`, ...) and the global functions of the
// chat-template environment, including Hugging Face's raise_exception and strftime_now.
#include <array>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/objects.h"
#include "chat/operators.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

const Value& one_arg(std::string_view test, CallArgs& a) {
  if (a.positional.size() != 1 || !a.keyword.empty()) fail("test '{}' takes exactly one argument", test);
  return a.positional[0];
}
void no_args(std::string_view test, CallArgs& a) {
  if (!a.positional.empty() || !a.keyword.empty()) fail("test '{}' takes no arguments", test);
}

bool is_iterator(const Value& v) { return v.is_object() && dynamic_cast<IteratorObject*>(&v.as_object()) != nullptr; }

bool t_defined(Interpreter&, const Value& v, CallArgs& a) { no_args("defined", a); return !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, CallArgs& a) { no_args("undefined", a); return v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, CallArgs& a) { no_args("none", a); return v.is_none(); }
bool t_boolean(Interpreter&, const Value& v, CallArgs& a) { no_args("boolean", a); return v.is_bool(); }
bool t_true(Interpreter&, const Value& v, CallArgs& a) { no_args("true", a); return v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, CallArgs& a) { no_args("false", a); return v.is_bool() && !v.as_bool(); }
bool t_integer(Interpreter&, const Value& v, CallArgs& a) { no_args("integer", a); return v.is_int(); }
bool t_float(Interpreter&, const Value& v, CallArgs& a) { no_args("float", a); return v.is_float(); }
bool t_number(Interpreter&, const Value& v, CallArgs& a) { no_args("number", a); return v.is_number(); }
bool t_string(Interpreter&, const Value& v, CallArgs& a) { no_args("string", a); return v.is_string(); }
bool t_mapping(Interpreter&, const Value& v, CallArgs& a) { no_args("mapping", a); return v.is_dict(); }
bool t_escaped(Interpreter&, const Value&, CallArgs& a) { no_args("escaped", a); return false; }

bool t_iterable(Interpreter&, const Value& v, CallArgs& a) {
  no_args("iterable", a);
  return v.is_string() || v.is_list_like() || v.is_dict() || v.is_undefined() || is_iterator(v);
}
bool t_sequence(Interpreter&, const Value& v, CallArgs& a) {
  no_args("sequence", a);
  // Jinja's Undefined has __len__ and __getitem__, so it passes as a sequence.
  return v.is_string() || v.is_list_like() || v.is_dict() || v.is_undefined();
}
bool t_callable(Interpreter&, const Value& v, CallArgs& a) {
  no_args("callable", a);
  return v.is_object() && v.as_object().callable();
}

bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value& other = one_arg("sameas", a);
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::None:
    case Value::Kind::Bool: return values_equal(v, other);
    case Value::Kind::Int: return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case Value::Kind::List: return &v.as_list() == &other.as_list();
    case Value::Kind::Dict: return &v.as_dict() == &other.as_dict();
    case Value::Kind::Object: return v.object_ptr() == other.object_ptr();
    case Value::Kind::String: return &v.as_string() == &other.as_string();
    default: return false;
  }
}

bool t_odd(Interpreter& in, const Value& v, CallArgs& a) {
  no_args("odd", a);
  return values_equal(binary_op(in, BinaryOp::Mod, v, Value::integer(2)), Value::integer(1));
}
bool t_even(Interpreter& in, const Value& v, CallArgs& a) {
  no_args("even", a);
  return values_equal(binary_op(in, BinaryOp::Mod, v, Value::integer(2)), Value::integer(0));
}
bool t_divisibleby(Interpreter& in, const Value& v, CallArgs& a) {
  return values_equal(binary_op(in, BinaryOp::Mod, v, one_arg("divisibleby", a)), Value::integer(0));
}

bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return values_equal(v, one_arg("eq", a)); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return !values_equal(v, one_arg("ne", a)); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg("lt", a)) < 0; }
bool t_le(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg("le", a)) <= 0; }
bool t_gt(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg("gt", a)) > 0; }
bool t_ge(Interpreter&, const Value& v, CallArgs& a) { return compare_values(v, one_arg("ge", a)) >= 0; }
bool t_in(Interpreter&, const Value& v, CallArgs& a) { return contains(one_arg("in", a), v); }

bool t_lower(Interpreter&, const Value& v, CallArgs& a) {
  no_args("lower", a);
  const std::string s = to_str(v);
  return py_lower(s) == s && py_upper(s) != s;
}
bool t_upper(Interpreter&, const Value& v, CallArgs& a) {
  no_args("upper", a);
  const std::string s = to_str(v);
  return py_upper(s) == s && py_lower(s) != s;
}
bool t_filter(Interpreter&, const Value& v, CallArgs& a) {
  no_args("filter", a);
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool t_test(Interpreter&, const Value& v, CallArgs& a) {
  no_args("test", a);
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};
constexpr TestEntry kTests[] = {
    {"!=", t_ne},          {"<", t_lt},           {"<=", t_le},         {"==", t_eq},
    {">", t_gt},           {">=", t_ge},          {"boolean", t_boolean}, {"callable", t_callable},
    {"defined", t_defined}, {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq},
    {"escaped", t_escaped}, {"even", t_even},      {"false", t_false},   {"filter", t_filter},
    {"float", t_float},    {"ge", t_ge},          {"greaterthan", t_gt}, {"gt", t_gt},
    {"in", t_in},          {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le},
    {"lessthan", t_lt},    {"lower", t_lower},    {"lt", t_lt},         {"mapping", t_mapping},
    {"ne", t_ne},          {"none", t_none},      {"number", t_number}, {"odd", t_odd},
    {"sameas", t_sameas},  {"sequence", t_sequence}, {"string", t_string}, {"test", t_test},
    {"true", t_true},      {"undefined", t_undefined}, {"upper", t_upper},
};

// --- globals ------------------------------------------------------------------------------

constexpr int64_t kMaxRange = 100000;  // the sandbox's MAX_RANGE

Value g_range(Interpreter& in, CallArgs& a) {
  if (!a.keyword.empty()) fail("range() takes no keyword arguments");
  if (a.positional.empty() || a.positional.size() > 3) fail("range expected 1 to 3 arguments, got {}", a.positional.size());
  std::array<int64_t, 3> n{0, 0, 1};
  for (size_t i = 0; i < a.positional.size(); ++i) {
    const Value& v = a.positional[i];
    if (!v.is_int() && !v.is_bool()) {
      if (v.is_undefined()) fail("{}", v.undefined_hint());
      fail("'{}' object cannot be interpreted as an integer", type_name(v));
    }
  }
  if (a.positional.size() == 1) {
    n[1] = a.positional[0].to_int_exact();
  } else {
    n[0] = a.positional[0].to_int_exact();
    n[1] = a.positional[1].to_int_exact();
    if (a.positional.size() == 3) n[2] = a.positional[2].to_int_exact();
  }
  const int64_t start = n[0], stop = n[1], step = n[2];
  if (step == 0) fail("range() arg 3 must not be zero");
  // Python's len(range(...)), computed in 128 bits so extreme bounds cannot overflow.
  const __int128 span = static_cast<__int128>(stop) - start;
  const __int128 count128 = step > 0 ? (span > 0 ? (span - 1) / step + 1 : 0)
                                     : (span < 0 ? (-span - 1) / -static_cast<__int128>(step) + 1 : 0);
  if (count128 > kMaxRange) {
    fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange);
  }
  const auto count = static_cast<int64_t>(count128);
  in.charge_items(static_cast<uint64_t>(count));
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out.push_back(Value::integer(start + i * step));
  return Value::list(std::move(out));
}

std::shared_ptr<DictData> dict_from_args(CallArgs& a, std::string_view callee) {
  auto data = std::make_shared<DictData>();
  if (a.positional.size() > 1) fail("{}() expected at most 1 positional argument", callee);
  if (a.positional.size() == 1) {
    const Value& source = a.positional[0];
    if (source.is_dict()) {
      for (const auto& [k, v] : source.as_dict().entries) data->set(k, v);
    } else {
      for (const auto& pair : iterate(source)) {
        const std::vector<Value> kv = iterate(pair);
        if (kv.size() != 2) fail("{}() sequence element has length {}; 2 is required", callee, kv.size());
        data->set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [name, value] : a.keyword) data->set(Value::string(name), value);
  return data;
}

Value g_dict(Interpreter&, CallArgs& a) { return Value::dict(dict_from_args(a, "dict")); }

Value g_namespace(Interpreter&, CallArgs& a) {
  auto ns = std::make_shared<NamespaceObject>();
  const auto attrs = dict_from_args(a, "namespace");
  for (const auto& [key, value] : attrs->entries) {
    ns->set_attribute(to_str(key), value);
  }
  return Value::object(ns);
}

class CyclerObject : public Object {
 public:
  explicit CyclerObject(std::vector<Value> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::string repr() const override { return "<Cycler>"; }
  bool is_stateful() const override { return true; }
  std::optional<Value> attribute(std::string_view name) const override {
    if (name == "current") return items_[pos_];
    if (name != "next" && name != "reset") return std::nullopt;
    auto self = std::static_pointer_cast<CyclerObject>(std::const_pointer_cast<Object>(shared_from_this()));
    const bool is_next = name == "next";
    return Value::object(std::make_shared<NativeFunction>(
        std::string("cycler.") + std::string(name),
        [self, is_next](Interpreter&, CallArgs&) {
          if (!is_next) {
            self->pos_ = 0;
            return Value::none();
          }
          const size_t index = self->pos_;
          self->pos_ = (index + 1) % self->items_.size();
          return self->items_[index];
        },
        true));
  }

 private:
  std::vector<Value> items_;
  size_t pos_ = 0;
};

Value g_cycler(Interpreter&, CallArgs& a) {
  if (a.positional.empty()) fail("at least one item has to be provided to cycler()");
  return Value::object(std::make_shared<CyclerObject>(a.positional));
}

Value g_joiner(Interpreter&, CallArgs& a) {
  BoundArgs b("joiner", a, {"sep"});
  const std::string sep = to_str(b.get_or(0, Value::string(", ")));
  auto used = std::make_shared<bool>(false);
  return Value::object(std::make_shared<NativeFunction>("joiner", [sep, used](Interpreter&, CallArgs&) {
    if (!*used) {
      *used = true;
      return Value::string("");
    }
    return Value::string(sep);
  }));
}

Value g_raise_exception(Interpreter&, CallArgs& a) {
  BoundArgs b("raise_exception", a, {"message"});
  fail("template raised an exception: {}", to_str(b.get(0)));
}

Value g_strftime_now(Interpreter& in, CallArgs& a) {
  BoundArgs b("strftime_now", a, {"format"});
  const Value& format = b.get(0);
  if (!format.is_string()) fail("strftime_now() argument must be str, not {}", type_name(format));
  if (format.as_string().size() > 1024) fail("strftime_now() format is too long");
  if (format.as_string().empty()) return Value::string("");
  const std::tm now = in.now();
  std::string out(format.as_string().size() * 16 + 64, '\0');
  const size_t n = std::strftime(out.data(), out.size(), format.as_string().c_str(), &now);
  out.resize(n);
  return Value::string(std::move(out));
}

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& entry : kTests) {
    if (entry.name == name) return entry.fn;
  }
  return nullptr;
}

std::vector<std::pair<std::string, Value>> make_globals() {
  std::vector<std::pair<std::string, Value>> globals;
  const auto add = [&](const char* name, NativeFunction::Fn fn) {
    globals.emplace_back(name, Value::object(std::make_shared<NativeFunction>(name, std::move(fn))));
  };
  add("range", g_range);
  add("dict", g_dict);
  add("namespace", g_namespace);
  add("cycler", g_cycler);
  add("joiner", g_joiner);
  add("raise_exception", g_raise_exception);
  add("strftime_now", g_strftime_now);
  return globals;
}

}  // namespace edgellm::chat::jinja
