#include "chat/objects.h"

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

// --- namespace ----------------------------------------------------------------------------

std::string NamespaceObject::repr() const {
  std::string out = "<Namespace {";
  bool first = true;
  for (const auto& [key, value] : attrs_.entries) {
    if (!first) out += ", ";
    first = false;
    out += jinja::repr(key) + ": " + jinja::repr(value);
  }
  return out + "}>";
}

std::optional<Value> NamespaceObject::attribute(std::string_view name) const {
  const Value* v = attrs_.find(name);
  if (v == nullptr) return std::nullopt;
  return *v;
}

void NamespaceObject::set_attribute(std::string_view name, Value value) {
  if (value.holds_stateful_objects()) {
    fail("namespace attribute '{}' cannot hold a namespace or loop object", name);
  }
  attrs_.set(Value::string(std::string(name)), std::move(value));
}

// --- loop ---------------------------------------------------------------------------------

std::string LoopObject::repr() const {
  return "<LoopContext " + std::to_string(index0_ + 1) + "/" + std::to_string(items_.size()) + ">";
}

std::optional<Value> LoopObject::attribute(std::string_view name) const {
  const auto n = static_cast<int64_t>(items_.size());
  const auto i = static_cast<int64_t>(index0_);
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem") {
    return i > 0 ? items_[index0_ - 1] : Value::undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return i + 1 < n ? items_[index0_ + 1] : Value::undefined("there is no next item");
  }
  if (name == "cycle" || name == "changed") {
    auto self = std::static_pointer_cast<LoopObject>(std::const_pointer_cast<Object>(shared_from_this()));
    const bool is_cycle = name == "cycle";
    return Value::object(std::make_shared<NativeFunction>(
        std::string("loop.") + std::string(name),
        [self, is_cycle](Interpreter&, CallArgs& args) { return is_cycle ? self->cycle(args) : self->changed(args); },
        true));
  }
  return std::nullopt;
}

Value LoopObject::cycle(CallArgs& args) const {
  if (!args.keyword.empty()) fail("loop.cycle() takes no keyword arguments");
  if (args.positional.empty()) fail("no items for cycling given");
  return args.positional[index0_ % args.positional.size()];
}

Value LoopObject::changed(CallArgs& args) {
  Value current = Value::tuple(args.positional);
  if (last_changed_ && values_equal(*last_changed_, current)) return Value::boolean(false);
  last_changed_ = std::move(current);
  return Value::boolean(true);
}

// --- iterators ----------------------------------------------------------------------------

IteratorObject::IteratorObject(std::vector<Value> items, std::string type)
    : items_(std::move(items)), type_(std::move(type)) {
  for (const auto& item : items_) holds_stateful_ = holds_stateful_ || item.holds_stateful_objects();
}

Value make_generator(std::vector<Value> items) {
  return Value::object(std::make_shared<IteratorObject>(std::move(items), "generator"));
}

// --- macros and methods -------------------------------------------------------------------

std::optional<Value> MacroObject::attribute(std::string_view name) const {
  if (name == "name") return Value::string(stmt_.name);
  return std::nullopt;
}

Value MacroObject::call(Interpreter& interp, CallArgs& args) { return interp.call_macro(stmt_, closure_, args); }

std::string BoundMethod::repr() const {
  return "<built-in method " + name_ + " of " + type_name_of_receiver() + " object>";
}

std::string BoundMethod::type_name_of_receiver() const { return jinja::type_name(receiver_); }

Value BoundMethod::call(Interpreter& interp, CallArgs& args) { return call_method(interp, receiver_, name_, args); }

}  // namespace edgellm::chat::jinja
