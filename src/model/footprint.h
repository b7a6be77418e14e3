// How much memory traffic one token costs a model, for `edgellm run`'s statistics.
#pragma once

#include <cstddef>

namespace edgellm::model {

class Model;

// Bytes of weight data one token's forward pass reads: every tensor, except that the token
// embedding contributes one row (when the LM head does not reuse it) and stacked expert tensors
// (*_exps, [.., .., n_expert]) contribute expert_used_count of their expert_count slices.
size_t active_weight_bytes_per_token(const Model& model);

}  // namespace edgellm::model
