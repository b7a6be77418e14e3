// Syntax tree of a parsed Jinja template. Nodes are immutable after parsing, so one parsed
// template can be rendered from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace edgellm::chat::jinja {

using FilterFn = Value (*)(Interpreter& interp, const Value& input, CallArgs& args);
using TestFn = bool (*)(Interpreter& interp, const Value& input, CallArgs& args);

enum class ExprKind : uint8_t {
  Literal, Name, List, Tuple, Dict, GetAttr, GetItem, Slice, Call, Filter, Test, Unary, Binary,
  Concat, Compare, Conditional,
};

struct Expr {
  Expr(ExprKind k, size_t off) : kind(k), offset(off) {}
  virtual ~Expr() = default;
  ExprKind kind;
  size_t offset;  // into the normalized source, for error positions
};
using ExprPtr = std::unique_ptr<Expr>;

struct CallArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // *args
  ExprPtr star_kwargs;  // **kwargs
};

struct LiteralExpr : Expr {
  LiteralExpr(size_t off, Value v) : Expr(ExprKind::Literal, off), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(size_t off, std::string n) : Expr(ExprKind::Name, off), name(std::move(n)) {}
  std::string name;
};

struct SequenceExpr : Expr {  // list or tuple literal
  using Expr::Expr;
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  explicit DictExpr(size_t off) : Expr(ExprKind::Dict, off) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct GetAttrExpr : Expr {
  GetAttrExpr(size_t off, ExprPtr obj, std::string n)
      : Expr(ExprKind::GetAttr, off), object(std::move(obj)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct GetItemExpr : Expr {
  GetItemExpr(size_t off, ExprPtr obj, ExprPtr idx)
      : Expr(ExprKind::GetItem, off), object(std::move(obj)), index(std::move(idx)) {}
  ExprPtr object;
  ExprPtr index;  // may be a SliceExpr
};

struct SliceExpr : Expr {
  explicit SliceExpr(size_t off) : Expr(ExprKind::Slice, off) {}
  ExprPtr start, stop, step;  // each may be null
};

struct CallExpr : Expr {
  CallExpr(size_t off, ExprPtr c) : Expr(ExprKind::Call, off), callee(std::move(c)) {}
  ExprPtr callee;
  CallArgExprs args;
};

// One `|name(args)` application; `fn` is null when the filter is unknown but sits in a
// conditional branch, where Jinja only fails if the branch actually runs.
struct FilterCall {
  size_t offset = 0;
  std::string name;
  FilterFn fn = nullptr;
  CallArgExprs args;
};

struct FilterExpr : Expr {
  FilterExpr(size_t off, ExprPtr in) : Expr(ExprKind::Filter, off), operand(std::move(in)) {}
  ExprPtr operand;
  FilterCall call;
};

struct TestExpr : Expr {
  TestExpr(size_t off, ExprPtr in) : Expr(ExprKind::Test, off), operand(std::move(in)) {}
  ExprPtr operand;
  std::string name;
  TestFn fn = nullptr;
  CallArgExprs args;
};

enum class UnaryOp : uint8_t { Neg, Pos, Not };
struct UnaryExpr : Expr {
  UnaryExpr(size_t off, UnaryOp o, ExprPtr in) : Expr(ExprKind::Unary, off), op(o), operand(std::move(in)) {}
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, And, Or };
struct BinaryExpr : Expr {
  BinaryExpr(size_t off, BinaryOp o, ExprPtr l, ExprPtr r)
      : Expr(ExprKind::Binary, off), op(o), left(std::move(l)), right(std::move(r)) {}
  BinaryOp op;
  ExprPtr left, right;
};

struct ConcatExpr : Expr {
  explicit ConcatExpr(size_t off) : Expr(ExprKind::Concat, off) {}
  std::vector<ExprPtr> items;
};

enum class CompareOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct CompareExpr : Expr {
  CompareExpr(size_t off, ExprPtr f) : Expr(ExprKind::Compare, off), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct ConditionalExpr : Expr {
  explicit ConditionalExpr(size_t off) : Expr(ExprKind::Conditional, off) {}
  ExprPtr condition, then_expr, else_expr;  // else_expr may be null
};

// --- statements ---------------------------------------------------------------------------

enum class StmtKind : uint8_t {
  Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, FilterBlock, With, Scope,
};

struct Stmt {
  Stmt(StmtKind k, size_t off) : kind(k), offset(off) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  size_t offset;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Assignment target: a name, a namespace attribute (ns.x) or a tuple of targets.
struct Target {
  enum class Kind : uint8_t { Name, NamespaceAttr, Tuple };
  Kind kind = Kind::Name;
  size_t offset = 0;
  std::string name;  // Name, or the namespace variable for NamespaceAttr
  std::string attr;  // NamespaceAttr only
  std::vector<Target> items;  // Tuple only
};

struct TextStmt : Stmt {
  TextStmt(size_t off, std::string t) : Stmt(StmtKind::Text, off), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {
  OutputStmt(size_t off, ExprPtr e) : Stmt(StmtKind::Output, off), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(size_t off) : Stmt(StmtKind::If, off) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if + elifs
  Body else_body;
};

struct ForStmt : Stmt {
  explicit ForStmt(size_t off) : Stmt(StmtKind::For, off) {}
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  Body body;
  Body else_body;
};

struct SetStmt : Stmt {
  explicit SetStmt(size_t off) : Stmt(StmtKind::Set, off) {}
  Target target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(size_t off) : Stmt(StmtKind::SetBlock, off) {}
  Target target;
  std::vector<FilterCall> filters;  // {% set x | upper %}
  Body body;
};

struct MacroStmt : Stmt {
  explicit MacroStmt(size_t off) : Stmt(StmtKind::Macro, off) {}
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  bool uses_varargs = false;  // extra positional arguments are allowed only then
  bool uses_kwargs = false;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(size_t off) : Stmt(StmtKind::FilterBlock, off) {}
  std::vector<FilterCall> filters;
  Body body;
};

struct WithStmt : Stmt {
  explicit WithStmt(size_t off) : Stmt(StmtKind::With, off) {}
  std::vector<Target> targets;
  std::vector<ExprPtr> values;
  Body body;
};

// A body run in its own variable scope: {% generation %} blocks (rendered as-is).
struct ScopeStmt : Stmt {
  explicit ScopeStmt(size_t off) : Stmt(StmtKind::Scope, off) {}
  Body body;
};

struct Program {
  std::string source;  // normalized; offsets in nodes point into it
  Body body;
};

}  // namespace edgellm::chat::jinja
