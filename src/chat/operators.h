// Python operator semantics for interpreter values: arithmetic with int/float promotion and
// floor division/modulo rounding toward negative infinity, sequence concatenation and
// repetition, membership and iteration.
#pragma once

#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace edgellm::chat::jinja {

// Arithmetic operators (not and/or, which short-circuit in the interpreter).
Value binary_op(Interpreter& interp, BinaryOp op, const Value& a, const Value& b);
Value unary_minus(const Value& v);
Value unary_plus(const Value& v);
bool contains(const Value& container, const Value& item);  // `item in container`
std::vector<Value> iterate(const Value& v);                 // Python iter(): dict gives keys
size_t length_of(const Value& v);                          // Python len()

}  // namespace edgellm::chat::jinja
