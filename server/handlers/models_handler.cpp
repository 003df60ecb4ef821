// Model list and retrieval.
#include "server/handlers/models_handler.hpp"

#include <nlohmann/json.hpp>

namespace tollgate::server {
namespace {

constexpr std::string_view kPrefix = "/v1/models/";

nlohmann::json model_object(const config::ModelConfig& model, std::int64_t created) {
  return {{"id", model.name}, {"object", "model"}, {"created", created}, {"owned_by", "tollgate"}};
}

}  // namespace

ModelsHandler::ModelsHandler(std::shared_ptr<const config::Config> config, std::int64_t created)
    : config_(std::move(config)), created_(created) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& model : config_->models) data.push_back(model_object(model, created_));
  list_body_ = nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump();
}

boost::asio::awaitable<HttpReply> ModelsHandler::handle(const Request& request, Exchange& exchange) {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  const auto& key = exchange.caller.key;
  if (!path.starts_with(kPrefix)) {
    if (!key || key->models.empty()) co_return HttpReply::json(200, list_body_);
    nlohmann::json data = nlohmann::json::array();
    for (const auto& model : config_->models)
      if (core::allows_model(*key, model.name)) data.push_back(model_object(model, created_));
    co_return HttpReply::json(200, nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump());
  }

  const std::string id(path.substr(kPrefix.size()));
  const auto* model = config_->find_model(id);
  // A model the key may not use is reported as absent, as OpenAI does for models a project cannot see.
  if (model == nullptr || (key && !core::allows_model(*key, model->name)))
    co_return HttpReply::error(
        core::make_error(core::ErrorKind::kModelNotFound, "The model '" + id + "' does not exist", "model"));
  exchange.model = model->name;
  co_return HttpReply::json(200, model_object(*model, created_).dump());
}

}  // namespace tollgate::server
