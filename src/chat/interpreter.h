// Tree-walking interpreter for parsed chat templates. One Interpreter renders once; it holds
// the per-render state (scopes, counters against the limits) while the Program stays shared.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/render_options.h"
#include "chat/value.h"

namespace edgellm::chat::jinja {

// A variable scope. Loops get a fresh scope per iteration and macros one per call, as in
// Jinja; `{% if %}` bodies share their parent's scope.
struct Frame : std::enable_shared_from_this<Frame> {
  std::shared_ptr<Frame> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* find(std::string_view name) const;  // searches this frame, then parents
  void set(std::string_view name, Value value);
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  Interpreter(const Program& program, const RenderOptions& options);

  // Renders with the variables of `context` (a dict). Errors carry the template position.
  std::string render(const Value& context);

  // --- services for built-in filters, tests and functions ---------------------------------
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(std::string_view name, const Value& input, CallArgs& args);
  bool apply_test(std::string_view name, const Value& input, CallArgs& args);
  // Accounts for `amount` bytes/items of new data; throws once the render's budget is spent.
  void charge(uint64_t amount);
  void charge_items(uint64_t count) { charge(count * sizeof(Value)); }  // new list/dict slots
  // Throws when a string of `bytes` would exceed the output limit (no string can be printed
  // if it is longer than the whole output may be).
  void check_string_size(size_t bytes) const;
  size_t max_string_bytes() const { return options_.limits.max_output_bytes; }
  void count_iterations(uint64_t n);
  std::tm now() const;
  Value call_macro(const MacroStmt& macro, Frame& closure, CallArgs& args);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const FramePtr& frame, std::string& out);
  Flow exec(const Stmt& stmt, const FramePtr& frame, std::string& out);
  Flow exec_for(const ForStmt& stmt, const FramePtr& frame, std::string& out);
  void exec_set_block(const SetBlockStmt& stmt, const FramePtr& frame);
  void emit(std::string& out, std::string_view text);
  void assign(const Target& target, const Value& value, Frame& frame);

  Value eval(const Expr& expr, const FramePtr& frame);
  Value eval_call(const CallExpr& expr, const FramePtr& frame);
  Value eval_compare(const CompareExpr& expr, const FramePtr& frame);
  CallArgs eval_args(const CallArgExprs& args, const FramePtr& frame);
  Value apply_filter_call(const FilterCall& call, const Value& input, const FramePtr& frame);

  struct DepthGuard {
    DepthGuard(Interpreter& interp, size_t offset);
    ~DepthGuard() { --interp.eval_depth_; }
    Interpreter& interp;
  };

  const Program& program_;
  RenderOptions options_;
  std::vector<FramePtr> pinned_frames_;  // scopes that macros close over live until the end
  size_t current_offset_ = 0;            // last node entered, for error positions
  unsigned eval_depth_ = 0;
  unsigned macro_depth_ = 0;
  uint64_t iterations_ = 0;
  uint64_t work_ = 0;
};

}  // namespace edgellm::chat::jinja
