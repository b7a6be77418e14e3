// Runtime values of the Jinja interpreter, modelled on the Python objects Jinja2 works with:
// None, bool, int, float, str, list, tuple, dict (insertion-ordered), Jinja's Undefined, and
// objects (namespace, loop, macro, bound methods). Strings, lists and dicts are shared, so
// copying a Value is cheap; only list.pop()/clear() and namespace attributes mutate in place,
// as they do in the sandbox Hugging Face renders with.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace edgellm::chat::jinja {

class Interpreter;
class Value;
class Object;
struct ListData;
struct DictData;

// Containers deeper than this are refused, so recursive printing, comparison and destruction
// stay far from the stack limit whatever the template or input does.
inline constexpr uint32_t kMaxValueDepth = 400;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Object };

  Value() = default;  // Undefined with no hint
  static Value undefined(std::string hint);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(std::shared_ptr<DictData> data);
  // Wraps an already-built list/tuple (its depth fields must be set; see make_list_data).
  static Value from_list_data(std::shared_ptr<ListData> data);
  static Value object(std::shared_ptr<Object> obj);

  Kind kind() const { return static_cast<Kind>(storage_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
  bool is_string() const { return kind() == Kind::String; }
  bool is_list_like() const { return kind() == Kind::List; }  // list or tuple
  bool is_tuple() const;
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_object() const { return kind() == Kind::Object; }

  bool as_bool() const { return std::get<bool>(storage_); }
  int64_t as_int() const { return std::get<int64_t>(storage_); }
  double as_float() const { return std::get<double>(storage_); }
  const std::string& as_string() const { return *std::get<StringPtr>(storage_); }
  const ListData& as_list() const { return *std::get<ListPtr>(storage_); }
  ListData& mutable_list() const { return *std::get<ListPtr>(storage_); }
  const DictData& as_dict() const { return *std::get<DictPtr>(storage_); }
  const std::shared_ptr<DictData>& dict_ptr() const { return std::get<DictPtr>(storage_); }
  Object& as_object() const { return *std::get<ObjectPtr>(storage_); }
  const std::shared_ptr<Object>& object_ptr() const { return std::get<ObjectPtr>(storage_); }
  // Why this value is undefined ("'x' is undefined"), used when the value gets used.
  std::string undefined_hint() const;

  // Numeric view of bool/int/float (Python promotes bool to int).
  double to_double() const;
  int64_t to_int_exact() const;  // bool or int only

  // Nesting depth (scalars 0) and whether the value holds namespace/loop objects.
  uint32_t depth() const;
  bool holds_stateful_objects() const;

 private:
  struct UndefinedInfo {
    std::shared_ptr<const std::string> hint;
  };
  using StringPtr = std::shared_ptr<const std::string>;
  using ListPtr = std::shared_ptr<ListData>;
  using DictPtr = std::shared_ptr<DictData>;
  using ObjectPtr = std::shared_ptr<Object>;
  std::variant<UndefinedInfo, std::monostate, bool, int64_t, double, StringPtr, ListPtr, DictPtr,
               ObjectPtr>
      storage_;
};

struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;
  // Named tuples (groupby's (grouper, list)): field names readable as attributes.
  const std::vector<std::string>* field_names = nullptr;
  uint32_t depth = 1;
  bool holds_stateful = false;
};

// Builds list storage with depth/holds_stateful computed; throws when nested too deeply.
std::shared_ptr<ListData> make_list_data(std::vector<Value> items, bool is_tuple);

struct DictData {
  std::vector<std::pair<Value, Value>> entries;  // insertion order, like Python 3.7+ dicts
  uint32_t depth = 1;
  bool holds_stateful = false;

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Inserts or overwrites; the key must be hashable (see is_hashable).
  void set(Value key, Value value);
  size_t size() const { return entries.size(); }

 private:
  std::unordered_map<std::string, size_t> string_index_;
};

// Objects: everything that is not plain data. Attribute lookup returns nullopt when missing.
class Object : public std::enable_shared_from_this<Object> {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;  // as Python would name the type in errors
  virtual std::string repr() const = 0;       // what str() prints
  virtual std::optional<Value> attribute(std::string_view name) const;
  virtual bool callable() const { return false; }
  virtual Value call(Interpreter& interp, CallArgs& args);
  // Namespaces and loops own values; storing them in a namespace could form a cycle.
  virtual bool is_stateful() const { return false; }
};

// --- Python semantics -------------------------------------------------------------------
bool truthy(const Value& v);
// Python str() and repr(). Output longer than max_bytes throws edgellm::Error, so printing a
// list that repeats a huge string cannot exhaust memory.
inline constexpr size_t kUnlimitedBytes = static_cast<size_t>(-1);
std::string to_str(const Value& v, size_t max_bytes = kUnlimitedBytes);
std::string repr(const Value& v, size_t max_bytes = kUnlimitedBytes);
std::string type_name(const Value& v);  // "int", "str", "list", "dict", "NoneType", ...
bool values_equal(const Value& a, const Value& b);
// Python's <: returns -1/0/1; throws edgellm::Error for unorderable types.
int compare_values(const Value& a, const Value& b);
bool is_hashable(const Value& v);

// Converts JSON input (object key order preserved). Throws when nesting exceeds kMaxValueDepth.
Value from_json(const nlohmann::ordered_json& json);

}  // namespace edgellm::chat::jinja
