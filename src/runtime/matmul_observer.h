// An optional hook that sees the input of every weight matmul of the forward pass, for tools
// that need activation statistics (the importance-matrix collector of `edgellm imatrix`). The
// forward pass only calls it when a Session has one set, so normal inference pays one
// null-pointer test per matmul.
#pragma once

#include <cstdint>
#include <string_view>

namespace edgellm::runtime {

class MatmulObserver {
 public:
  virtual ~MatmulObserver() = default;
  // `weight` is the GGUF name of the weight matrix (e.g. "blk.0.attn_q.weight"); x holds
  // n_tokens rows of `cols` floats, the activations about to be multiplied by it. Called on the
  // thread that runs Session::eval, before the matmul.
  virtual void observe(std::string_view weight, const float* x, int64_t n_tokens, int64_t cols) = 0;
};

}  // namespace edgellm::runtime
