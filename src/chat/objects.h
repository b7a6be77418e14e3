// Interpreter objects that are not plain data: namespace(), the loop variable, macros,
// built-in functions and bound methods.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace edgellm::chat::jinja {

struct Frame;

// namespace(...): the one mutable object templates have ({% set ns.x = ... %}).
class NamespaceObject : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  std::string repr() const override;
  std::optional<Value> attribute(std::string_view name) const override;
  bool is_stateful() const override { return true; }
  // Refuses values holding namespaces or loops, so no reference cycle can form.
  void set_attribute(std::string_view name, Value value);

 private:
  DictData attrs_;
};

// The `loop` variable of a for loop.
class LoopObject : public Object {
 public:
  explicit LoopObject(std::vector<Value> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "LoopContext"; }
  std::string repr() const override;
  std::optional<Value> attribute(std::string_view name) const override;
  bool is_stateful() const override { return true; }

  size_t size() const { return items_.size(); }
  const Value& item(size_t i) const { return items_[i]; }
  void set_index(size_t index0) { index0_ = index0; }
  Value cycle(CallArgs& args) const;
  Value changed(CallArgs& args);

 private:
  std::vector<Value> items_;
  size_t index0_ = 0;
  std::optional<Value> last_changed_;
};

class MacroObject : public Object {
 public:
  MacroObject(const MacroStmt& stmt, Frame& closure) : stmt_(stmt), closure_(closure) {}
  std::string type_name() const override { return "Macro"; }
  std::string repr() const override { return "<Macro '" + stmt_.name + "'>"; }
  std::optional<Value> attribute(std::string_view name) const override;
  bool callable() const override { return true; }
  Value call(Interpreter& interp, CallArgs& args) override;

 private:
  const MacroStmt& stmt_;
  Frame& closure_;  // kept alive by the interpreter for the whole render
};

// A native function: globals like range(), and methods of loop/cycler objects.
class NativeFunction : public Object {
 public:
  using Fn = std::function<Value(Interpreter&, CallArgs&)>;
  // `stateful`: the function captures a loop/cycler, so namespaces must not store it.
  NativeFunction(std::string name, Fn fn, bool stateful = false)
      : name_(std::move(name)), fn_(std::move(fn)), stateful_(stateful) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override { return "<built-in function " + name_ + ">"; }
  bool callable() const override { return true; }
  Value call(Interpreter& interp, CallArgs& args) override { return fn_(interp, args); }
  bool is_stateful() const override { return stateful_; }

 private:
  std::string name_;
  Fn fn_;
  bool stateful_;
};

// A one-shot iterator, like the generators Jinja's select/map/unique/batch filters return:
// always true, no len(), and its items can be consumed only once.
class IteratorObject : public Object {
 public:
  IteratorObject(std::vector<Value> items, std::string type);
  std::string type_name() const override { return type_; }
  std::string repr() const override { return "<" + type_ + " object>"; }
  bool is_stateful() const override { return holds_stateful_; }
  std::vector<Value> take() { return std::exchange(items_, {}); }

 private:
  std::vector<Value> items_;
  std::string type_;
  bool holds_stateful_ = false;
};
Value make_generator(std::vector<Value> items);  // "generator"

// `"text".upper`, `dict.items` ...: a str/list/dict method bound to its receiver.
class BoundMethod : public Object {
 public:
  BoundMethod(Value receiver, std::string name) : receiver_(std::move(receiver)), name_(std::move(name)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override;
  bool callable() const override { return true; }
  Value call(Interpreter& interp, CallArgs& args) override;
  bool is_stateful() const override { return receiver_.holds_stateful_objects(); }

 private:
  std::string type_name_of_receiver() const;
  Value receiver_;
  std::string name_;
};

}  // namespace edgellm::chat::jinja
