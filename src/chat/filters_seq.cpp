// Jinja2's sequence filters. Where Jinja returns a generator (map, select, unique, batch ...)
// we return a one-shot iterator object too, so truthiness and reuse behave the same.
#include <algorithm>
#include <unordered_set>

#include "chat/builtins.h"
#include "chat/filters.h"
#include "chat/interpreter.h"
#include "chat/objects.h"
#include "chat/operators.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

// "a.b.0" -> ["a", "b", 0]: Jinja's attribute paths, integer parts looked up as integers.
std::vector<Value> attribute_path(const Value& attribute) {
  if (!attribute.is_string()) return {attribute};
  std::vector<Value> parts;
  const std::string& s = attribute.as_string();
  size_t start = 0;
  for (;;) {
    const size_t dot = s.find('.', start);
    std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    parts.push_back(digits && part.size() < 18 ? Value::integer(std::stoll(part)) : Value::string(std::move(part)));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

Value lookup_path(Value item, const std::vector<Value>& path, const Value* fallback) {
  for (const auto& part : path) {
    item = get_item(item, part);
    if (fallback != nullptr && item.is_undefined()) item = *fallback;
  }
  return item;
}

Value ignore_case(const Value& v) { return v.is_string() ? Value::string(py_lower(v.as_string())) : v; }

// Sort/min/max keys: one value per comma-separated attribute (or the item itself).
std::vector<Value> sort_key(const Value& item, const std::vector<std::vector<Value>>& paths, bool case_sensitive) {
  std::vector<Value> key;
  if (paths.empty()) {
    key.push_back(case_sensitive ? item : ignore_case(item));
    return key;
  }
  for (const auto& path : paths) {
    Value v = lookup_path(item, path, nullptr);
    key.push_back(case_sensitive ? v : ignore_case(v));
  }
  return key;
}

std::vector<std::vector<Value>> sort_paths(const Value& attribute) {
  std::vector<std::vector<Value>> paths;
  if (attribute.is_none()) return paths;
  if (!attribute.is_string()) return {attribute_path(attribute)};
  const std::string& s = attribute.as_string();
  size_t start = 0;
  for (;;) {
    const size_t comma = s.find(',', start);
    paths.push_back(attribute_path(Value::string(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start))));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return paths;
}

int compare_keys(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (!values_equal(a[i], b[i])) return compare_values(a[i], b[i]);
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

std::vector<Value> items_of(Interpreter& interp, const Value& v) {
  std::vector<Value> items = iterate(v);
  interp.charge_items(items.size());
  return items;
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("length", a, {});
  return Value::integer(static_cast<int64_t>(length_of(v)));
}

Value f_list(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("list", a, {});
  return Value::list(items_of(in, v));
}

Value f_first(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("first", a, {});
  if (v.is_list_like()) {
    const auto& items = v.as_list().items;
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
  }
  const std::vector<Value> items = items_of(in, v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("last", a, {});
  if (v.is_undefined()) fail("{}", v.undefined_hint());
  if (!v.is_list_like() && !v.is_string() && !v.is_dict()) fail("'{}' object is not reversible", type_name(v));
  const std::vector<Value> items = v.is_list_like() ? std::vector<Value>{} : items_of(in, v);
  const auto& seq = v.is_list_like() ? v.as_list().items : items;
  return seq.empty() ? Value::undefined("No last item, sequence was empty.") : seq.back();
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("join", a, {"d", "attribute"});
  const std::string sep = to_str(b.get_or(0, Value::string("")));
  const Value attribute = b.get_or(1, Value::none());
  const std::vector<Value> path = attribute.is_none() ? std::vector<Value>{} : attribute_path(attribute);
  std::string out;
  const std::vector<Value> items = items_of(in, v);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += to_str(path.empty() ? items[i] : lookup_path(items[i], path, nullptr), in.max_string_bytes());
    in.check_string_size(out.size());
  }
  in.charge(out.size());
  return Value::string(std::move(out));
}

Value f_reverse(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("reverse", a, {});
  if (v.is_string()) {
    std::u32string cps = decode_utf8(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(encode_utf8(cps));
  }
  if (!v.is_list_like() && !v.is_dict() && !v.is_undefined() && !v.is_object()) {
    fail("argument must be iterable, not {}", type_name(v));
  }
  std::vector<Value> items = items_of(in, v);
  std::reverse(items.begin(), items.end());
  if (v.is_list_like() || v.is_dict()) {
    return Value::object(std::make_shared<IteratorObject>(std::move(items), v.is_dict() ? "dict_reversekeyiterator" : "list_reverseiterator"));
  }
  return Value::list(std::move(items));
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("sort", a, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = truthy(b.get_or(0, Value::boolean(false)));
  const bool case_sensitive = truthy(b.get_or(1, Value::boolean(false)));
  const auto paths = sort_paths(b.get_or(2, Value::none()));
  std::vector<Value> items = items_of(in, v);
  std::vector<std::pair<std::vector<Value>, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) keyed.emplace_back(sort_key(items[i], paths, case_sensitive), i);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    const int c = compare_keys(x.first, y.first);
    return reverse ? c > 0 : c < 0;
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (const auto& [key, index] : keyed) out.push_back(items[index]);
  return Value::list(std::move(out));
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("unique", a, {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(b.get_or(0, Value::boolean(false)));
  const Value attribute = b.get_or(1, Value::none());
  const std::vector<Value> path = attribute.is_none() ? std::vector<Value>{} : attribute_path(attribute);
  std::unordered_set<std::string> seen_strings;
  std::vector<Value> seen_other;
  std::vector<Value> out;
  for (const auto& item : items_of(in, v)) {
    Value key = path.empty() ? item : lookup_path(item, path, nullptr);
    if (!case_sensitive) key = ignore_case(key);
    if (!is_hashable(key)) fail("unhashable type: '{}'", type_name(key));
    bool fresh = false;
    if (key.is_string()) {
      fresh = seen_strings.insert(key.as_string()).second;
    } else if (std::none_of(seen_other.begin(), seen_other.end(), [&](const Value& s) { return values_equal(s, key); })) {
      in.charge_items(seen_other.size());
      seen_other.push_back(key);
      fresh = true;
    }
    if (fresh) out.push_back(item);
  }
  return make_generator(std::move(out));
}

Value min_or_max(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
  BoundArgs b(want_max ? "max" : "min", a, {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(b.get_or(0, Value::boolean(false)));
  const auto paths = sort_paths(b.get_or(1, Value::none()));
  const std::vector<Value> items = items_of(in, v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  std::vector<Value> best_key = sort_key(items[0], paths, case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    std::vector<Value> key = sort_key(items[i], paths, case_sensitive);
    const int c = compare_keys(key, best_key);
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}
Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return min_or_max(in, v, a, false); }
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return min_or_max(in, v, a, true); }

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("sum", a, {"attribute", "start"});
  const Value attribute = b.get_or(0, Value::none());
  const std::vector<Value> path = attribute.is_none() ? std::vector<Value>{} : attribute_path(attribute);
  Value total = b.get_or(1, Value::integer(0));
  for (const auto& item : items_of(in, v)) {
    total = binary_op(in, BinaryOp::Add, total, path.empty() ? item : lookup_path(item, path, nullptr));
  }
  return total;
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  if (a.positional.empty()) {
    Value attribute;
    Value fallback = Value::none();
    bool has_default = false;
    for (auto& [name, value] : a.keyword) {
      if (name == "attribute") {
        attribute = value;
      } else if (name == "default") {
        fallback = value;
        has_default = !value.is_none();
      } else {
        fail("map(): unexpected keyword argument '{}'", name);
      }
    }
    if (attribute.is_undefined()) fail("map requires a filter argument");
    const std::vector<Value> path = attribute_path(attribute);
    for (const auto& item : items_of(in, v)) out.push_back(lookup_path(item, path, has_default ? &fallback : nullptr));
    return make_generator(std::move(out));
  }
  const Value name = a.positional.front();
  if (!name.is_string()) fail("map(): the filter name must be a string");
  for (const auto& item : items_of(in, v)) {
    CallArgs args{{a.positional.begin() + 1, a.positional.end()}, a.keyword};
    out.push_back(in.apply_filter(name.as_string(), item, args));
  }
  return make_generator(std::move(out));
}

Value select_or_reject(Interpreter& in, const Value& v, CallArgs& a, bool select, bool by_attribute) {
  std::vector<Value> out;
  if (!truthy(v)) return make_generator(std::move(out));  // Jinja checks `if value:` first
  std::vector<Value> path;
  size_t offset = 0;
  if (by_attribute) {
    if (a.positional.empty()) fail("missing parameter for attribute name");
    path = attribute_path(a.positional[0]);
    offset = 1;
  }
  const bool has_test = a.positional.size() > offset;
  if (has_test && !a.positional[offset].is_string()) fail("the test name must be a string");
  for (const auto& item : items_of(in, v)) {
    const Value subject = by_attribute ? lookup_path(item, path, nullptr) : item;
    bool passed = false;
    if (has_test) {
      CallArgs args{{a.positional.begin() + static_cast<std::ptrdiff_t>(offset) + 1, a.positional.end()}, a.keyword};
      passed = in.apply_test(a.positional[offset].as_string(), subject, args);
    } else {
      passed = truthy(subject);
    }
    if (passed == select) out.push_back(item);
  }
  return make_generator(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, true, false); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, false, true); }

Value f_batch(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("batch", a, {"linecount", "fill_with"});
  const int64_t size = b.get(0).to_int_exact();
  if (size <= 0) fail("batch size must be positive");
  const Value fill = b.get_or(1, Value::none());
  std::vector<Value> out;
  std::vector<Value> current;
  for (auto& item : items_of(in, v)) {
    if (static_cast<int64_t>(current.size()) == size) out.push_back(Value::list(std::exchange(current, {})));
    current.push_back(std::move(item));
  }
  if (!current.empty()) {
    if (!fill.is_none()) {
      while (static_cast<int64_t>(current.size()) < size) current.push_back(fill);
    }
    out.push_back(Value::list(std::move(current)));
  }
  return make_generator(std::move(out));
}

Value f_slice(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("slice", a, {"slices", "fill_with"});
  const int64_t slices = b.get(0).to_int_exact();
  if (slices <= 0 || slices > 100000) fail("slice count must be between 1 and 100000");
  const Value fill = b.get_or(1, Value::none());
  const std::vector<Value> seq = items_of(in, v);
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per_slice = length / slices;
  const int64_t with_extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    const int64_t start = offset + n * per_slice;
    if (n < with_extra) ++offset;
    const int64_t end = offset + (n + 1) * per_slice;
    std::vector<Value> part(seq.begin() + start, seq.begin() + end);
    if (!fill.is_none() && n >= with_extra) part.push_back(fill);
    out.push_back(Value::list(std::move(part)));
  }
  return make_generator(std::move(out));
}

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("dictsort", a, {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = truthy(b.get_or(0, Value::boolean(false)));
  const Value by = b.get_or(1, Value::string("key"));
  const bool reverse = truthy(b.get_or(2, Value::boolean(false)));
  if (!by.is_string() || (by.as_string() != "key" && by.as_string() != "value")) {
    fail("You can only sort by either \"key\" or \"value\"");
  }
  if (!v.is_dict()) fail("dictsort expects a mapping, got {}", type_name(v));
  const size_t pos = by.as_string() == "key" ? 0 : 1;
  std::vector<Value> pairs;
  for (const auto& [key, value] : v.as_dict().entries) pairs.push_back(Value::tuple({key, value}));
  in.charge_items(pairs.size());
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    const Value kx = x.as_list().items[pos];
    const Value ky = y.as_list().items[pos];
    const int c = compare_values(case_sensitive ? kx : ignore_case(kx), case_sensitive ? ky : ignore_case(ky));
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(pairs));
}

Value f_items(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("items", a, {});
  std::vector<Value> out;
  if (v.is_undefined()) return make_generator(std::move(out));
  if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
  for (const auto& [key, value] : v.as_dict().entries) out.push_back(Value::tuple({key, value}));
  in.charge_items(out.size());
  return make_generator(std::move(out));
}

Value f_groupby(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("groupby", a, {"attribute", "default", "case_sensitive"});
  const std::vector<Value> path = attribute_path(b.get(0));
  const Value fallback = b.get_or(1, Value::none());
  const Value* fallback_ptr = fallback.is_none() ? nullptr : &fallback;
  const bool case_sensitive = truthy(b.get_or(2, Value::boolean(false)));
  std::vector<Value> items = items_of(in, v);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = lookup_path(items[i], path, fallback_ptr);
    keyed.emplace_back(case_sensitive ? key : ignore_case(key), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return compare_values(x.first, y.first) < 0; });
  std::vector<Value> groups;
  for (size_t i = 0; i < keyed.size();) {
    std::vector<Value> members;
    size_t j = i;
    while (j < keyed.size() && values_equal(keyed[j].first, keyed[i].first)) members.push_back(items[keyed[j++].second]);
    Value grouper = case_sensitive ? keyed[i].first : lookup_path(members.front(), path, fallback_ptr);
    static const std::vector<std::string> kGroupFields = {"grouper", "list"};
    auto group = make_list_data({std::move(grouper), Value::list(std::move(members))}, true);
    group->field_names = &kGroupFields;
    groups.push_back(Value::from_list_data(std::move(group)));
    i = j;
  }
  return Value::list(std::move(groups));
}

Value f_attr(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("attr", a, {"name"});
  const std::string name = to_str(b.get(0));
  if (v.is_dict() && v.as_dict().find(name) != nullptr) {
    const Value method = get_attribute(Value::dict(std::make_shared<DictData>()), name);
    return method.is_object() ? get_attribute(v, name) : Value::undefined("'dict object' has no attribute '" + name + "'");
  }
  return get_attribute(v, name);
}

constexpr FilterEntry kSequenceFilters[] = {
    {"attr", f_attr},       {"batch", f_batch},       {"count", f_length},    {"dictsort", f_dictsort},
    {"first", f_first},     {"groupby", f_groupby},   {"items", f_items},     {"join", f_join},
    {"last", f_last},       {"length", f_length},     {"list", f_list},      {"map", f_map},
    {"max", f_max},         {"min", f_min},           {"reject", f_reject},  {"rejectattr", f_rejectattr},
    {"reverse", f_reverse}, {"select", f_select},     {"selectattr", f_selectattr}, {"slice", f_slice},
    {"sort", f_sort},       {"sum", f_sum},           {"unique", f_unique},
};

}  // namespace

FilterFn find_sequence_filter(std::string_view name) {
  for (const auto& entry : kSequenceFilters) {
    if (entry.name == name) return entry.fn;
  }
  return nullptr;
}

FilterFn find_filter(std::string_view name) {
  if (FilterFn fn = find_text_filter(name)) return fn;
  return find_sequence_filter(name);
}

}  // namespace edgellm::chat::jinja
