#include "chat/value.h"

#include <algorithm>
#include <cmath>

#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

void check_depth(uint32_t depth) {
  if (depth > kMaxValueDepth) {
    fail("value nested more than {} levels deep (lists/dicts inside each other)", kMaxValueDepth);
  }
}

}  // namespace

// --- construction ------------------------------------------------------------------------

Value Value::undefined(std::string hint) {
  Value v;
  v.storage_ = UndefinedInfo{std::make_shared<const std::string>(std::move(hint))};
  return v;
}
Value Value::none() {
  Value v;
  v.storage_ = std::monostate{};
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.storage_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.storage_ = i;
  return v;
}
Value Value::number(double f) {
  Value v;
  v.storage_ = f;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.storage_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

std::shared_ptr<ListData> make_list_data(std::vector<Value> items, bool is_tuple) {
  auto data = std::make_shared<ListData>();
  data->is_tuple = is_tuple;
  uint32_t child_depth = 0;
  for (const auto& item : items) {
    child_depth = std::max(child_depth, item.depth());
    data->holds_stateful = data->holds_stateful || item.holds_stateful_objects();
  }
  data->depth = child_depth + 1;
  check_depth(data->depth);
  data->items = std::move(items);
  return data;
}

Value Value::from_list_data(std::shared_ptr<ListData> data) {
  Value v;
  v.storage_ = std::move(data);
  return v;
}
Value Value::list(std::vector<Value> items) {
  return from_list_data(make_list_data(std::move(items), false));
}
Value Value::tuple(std::vector<Value> items) {
  return from_list_data(make_list_data(std::move(items), true));
}
Value Value::dict(std::shared_ptr<DictData> data) {
  check_depth(data->depth);
  Value v;
  v.storage_ = std::move(data);
  return v;
}
Value Value::object(std::shared_ptr<Object> obj) {
  Value v;
  v.storage_ = std::move(obj);
  return v;
}

bool Value::is_tuple() const { return is_list_like() && as_list().is_tuple; }

std::string Value::undefined_hint() const {
  const auto& info = std::get<UndefinedInfo>(storage_);
  return info.hint ? *info.hint : std::string("value is undefined");
}

double Value::to_double() const {
  switch (kind()) {
    case Kind::Bool: return as_bool() ? 1.0 : 0.0;
    case Kind::Int: return static_cast<double>(as_int());
    case Kind::Float: return as_float();
    default: fail("expected a number, got {}", type_name(*this));
  }
}

int64_t Value::to_int_exact() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  if (is_int()) return as_int();
  fail("expected an integer, got {}", type_name(*this));
}

uint32_t Value::depth() const {
  if (kind() == Kind::List) return as_list().depth;
  if (kind() == Kind::Dict) return as_dict().depth;
  return 0;
}

bool Value::holds_stateful_objects() const {
  if (kind() == Kind::List) return as_list().holds_stateful;
  if (kind() == Kind::Dict) return as_dict().holds_stateful;
  if (kind() == Kind::Object) return as_object().is_stateful();
  return false;
}

// --- dict ---------------------------------------------------------------------------------

const Value* DictData::find(std::string_view key) const {
  auto it = string_index_.find(std::string(key));
  return it == string_index_.end() ? nullptr : &entries[it->second].second;
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries) {
    if (!k.is_string() && values_equal(k, key)) return &v;
  }
  return nullptr;
}

void DictData::set(Value key, Value value) {
  if (!is_hashable(key)) fail("unhashable type: '{}' cannot be a dict key", type_name(key));
  depth = std::max(depth, value.depth() + 1);
  check_depth(depth);
  holds_stateful = holds_stateful || value.holds_stateful_objects();
  if (key.is_string()) {
    auto [it, inserted] = string_index_.emplace(key.as_string(), entries.size());
    if (!inserted) {
      entries[it->second].second = std::move(value);
      return;
    }
    entries.emplace_back(std::move(key), std::move(value));
    return;
  }
  for (auto& [k, v] : entries) {
    if (!k.is_string() && values_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

// --- objects ------------------------------------------------------------------------------

std::optional<Value> Object::attribute(std::string_view) const { return std::nullopt; }

Value Object::call(Interpreter&, CallArgs&) { fail("'{}' object is not callable", type_name()); }

// --- Python semantics ---------------------------------------------------------------------

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return v.as_bool();
    case Value::Kind::Int: return v.as_int() != 0;
    case Value::Kind::Float: return v.as_float() != 0.0;
    case Value::Kind::String: return !v.as_string().empty();
    case Value::Kind::List: return !v.as_list().items.empty();
    case Value::Kind::Dict: return v.as_dict().size() != 0;
    case Value::Kind::Object: return true;
  }
  return false;
}

namespace {

void check_size(const std::string& out, size_t max_bytes) {
  if (out.size() > max_bytes) fail("text produced by str()/repr() exceeds the {} byte limit", max_bytes);
}

void append_repr(std::string& out, const Value& v, size_t max_bytes) {
  switch (v.kind()) {
    case Value::Kind::Undefined: out += "Undefined"; break;
    case Value::Kind::None: out += "None"; break;
    case Value::Kind::Bool: out += v.as_bool() ? "True" : "False"; break;
    case Value::Kind::Int: out += std::to_string(v.as_int()); break;
    case Value::Kind::Float: out += py_float_repr(v.as_float()); break;
    case Value::Kind::String: out += py_repr_string(v.as_string()); break;
    case Value::Kind::List: {
      const auto& list = v.as_list();
      out += list.is_tuple ? '(' : '[';
      for (size_t i = 0; i < list.items.size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, list.items[i], max_bytes);
      }
      if (list.is_tuple && list.items.size() == 1) out += ',';
      out += list.is_tuple ? ')' : ']';
      break;
    }
    case Value::Kind::Dict: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : v.as_dict().entries) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, key, max_bytes);
        out += ": ";
        append_repr(out, value, max_bytes);
      }
      out += '}';
      break;
    }
    case Value::Kind::Object: out += v.as_object().repr(); break;
  }
  check_size(out, max_bytes);
}

}  // namespace

std::string to_str(const Value& v, size_t max_bytes) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::String: return v.as_string();
    default: return repr(v, max_bytes);
  }
}

std::string repr(const Value& v, size_t max_bytes) {
  std::string out;
  append_repr(out, v, max_bytes);
  return out;
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return v.is_tuple() ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Object: return v.as_object().type_name();
  }
  return "object";
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    return a.to_int_exact() == b.to_int_exact();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::List: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!values_equal(x.items[i], y.items[i])) return false;
      }
      return true;
    }
    case Value::Kind::Dict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (other == nullptr || !values_equal(value, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Object: return a.object_ptr() == b.object_ptr();
    default: return false;
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.to_double();
      const double y = b.to_double();
      return x < y ? -1 : (y < x ? 1 : 0);
    }
    const int64_t x = a.to_int_exact();
    const int64_t y = b.to_int_exact();
    return x < y ? -1 : (y < x ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order equals code point order, which is what Python compares.
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list_like() && b.is_list_like() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i])) return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  if (a.is_undefined() || b.is_undefined()) {
    fail("{}", a.is_undefined() ? a.undefined_hint() : b.undefined_hint());
  }
  fail("'<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b));
}

bool is_hashable(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::List: {
      if (!v.is_tuple()) return false;
      return std::all_of(v.as_list().items.begin(), v.as_list().items.end(), is_hashable);
    }
    case Value::Kind::Dict: return false;
    default: return true;
  }
}

namespace {

Value from_json_at(const nlohmann::ordered_json& json, uint32_t depth) {
  if (depth > kMaxValueDepth) fail("input JSON nested more than {} levels deep", kMaxValueDepth);
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(json.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json_at(item, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto data = std::make_shared<DictData>();
      for (const auto& [key, value] : json.items()) {
        data->set(Value::string(key), from_json_at(value, depth + 1));
      }
      return Value::dict(std::move(data));
    }
    default: fail("unsupported JSON value of type {} in the template context", json.type_name());
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

}  // namespace edgellm::chat::jinja
