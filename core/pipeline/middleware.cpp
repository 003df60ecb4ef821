// The onion: Next calls the following stage; running off the end is a bug (the last stage is terminal).
#include "core/pipeline/middleware.hpp"

namespace tollgate::core {

boost::asio::awaitable<Reply> Next::operator()(RequestContext& ctx) const {
  if (rest_.empty()) co_return Reply::error(make_error(ErrorKind::kInternal, "the pipeline has no terminal stage"));
  co_return co_await rest_.front()->handle(ctx, Next{rest_.subspan(1)});
}

Pipeline::Pipeline(std::vector<std::unique_ptr<Middleware>> stages) : stages_(std::move(stages)) {
  for (const auto& stage : stages_) order_.push_back(stage.get());
}

boost::asio::awaitable<Reply> Pipeline::run(RequestContext& ctx) const {
  co_return co_await Next{order_}(ctx);
}

std::vector<std::string_view> Pipeline::names() const {
  std::vector<std::string_view> out;
  for (const auto* stage : order_) out.push_back(stage->name());
  return out;
}

}  // namespace tollgate::core
