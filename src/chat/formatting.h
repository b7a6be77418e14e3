// Python string formatting and case helpers used by methods and filters: str.title(),
// str.capitalize(), str.replace(), padding, str.format() and the "%" operator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chat/value.h"

namespace edgellm::chat::jinja {

std::string py_title(std::string_view s);       // str.title()
std::string py_capitalize(std::string_view s);  // str.capitalize()
// str.replace(); count < 0 replaces all. Throws when the result would exceed max_bytes.
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count,
                       size_t max_bytes);
// str.isdigit(), isalpha(), isalnum(), isspace(), islower(), isupper(), istitle(), ...
bool py_is_class(std::string_view s, std::string_view method);
// str.center/ljust/rjust/zfill with a one-character fill.
std::string py_pad(std::string_view s, std::string_view method, int64_t width, std::string_view fill);

// format(value, spec): [[fill]align][sign][#][0][width][,][.precision][type].
std::string format_with_spec(const Value& v, std::string_view spec);
// str.format(*args, **kwargs) with {}, {0}, {name}, !r/!s conversions and format specs.
std::string str_format(Interpreter& interp, std::string_view fmt, CallArgs& args);
// printf-style "fmt % args": args is a tuple (positional), a dict (for %(key)s) or one value.
std::string percent_format(Interpreter& interp, std::string_view fmt, const Value& args);

}  // namespace edgellm::chat::jinja
