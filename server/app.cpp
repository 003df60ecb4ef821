// The composition root: services, endpoints, threads, signals, graceful shutdown.
#include "server/app.hpp"

#include <csignal>
#include <filesystem>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "adapters/http/upstream_client.hpp"
#include "adapters/registry.hpp"
#include "core/pipeline/stages.hpp"
#include "server/handlers/chat_handler.hpp"
#include "server/handlers/health_handler.hpp"
#include "server/handlers/metrics_handler.hpp"
#include "server/handlers/models_handler.hpp"
#include "server/listener.hpp"

namespace tollgate::server {
namespace {

namespace asio = boost::asio;

/// Deployments a request can reach: their provider exists and this build can call it.
std::size_t usable_deployments(const config::Config& config, const adapters::ProviderRegistry& providers) {
  std::size_t usable = 0;
  for (const auto& model : config.models)
    for (const auto& deployment : model.deployments)
      if (const auto* provider = providers.find(deployment.provider)) usable += provider->available();
  return usable;
}

/// The address to listen on: an IP literal, or a name such as `localhost` resolved once at start.
asio::ip::tcp::endpoint listen_endpoint(asio::io_context& io, const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port};
  asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, std::to_string(port), asio::ip::tcp::resolver::passive, ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": server.host is neither an IP "
                             "address nor a name that resolves" + (ec ? " (" + ec.message() + ")" : std::string()));
  return results.begin()->endpoint();
}

std::string display_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

App::App(std::shared_ptr<const config::Config> config) : config_(std::move(config)) {}
App::~App() = default;

int App::run() {
  const auto& cfg = *config_;
  const unsigned threads = cfg.server.threads != 0 ? cfg.server.threads : std::max(1u, std::thread::hardware_concurrency());
  std::filesystem::create_directories(cfg.storage.data_dir);

  // Declared first, destroyed last: every socket and timer below belongs to it.
  asio::io_context io(static_cast<int>(threads));

  core::SystemClock clock;
  core::Metrics metrics;
  adapters::http::UpstreamClient client(io.get_executor(), adapters::http::UpstreamClient::Options{});
  adapters::ProviderRegistry providers(cfg, client);
  for (const auto* provider : providers.all())
    if (!provider->available())
      spdlog::warn("provider '{}' has type '{}', which this build cannot call yet: its deployments are skipped",
                   provider->id(), provider->type());
  const core::Pipeline chat_pipeline = core::build_chat_pipeline(core::StageDeps{
      config_, [&providers](std::string_view id) { return providers.find(id); }, clock, metrics});

  std::atomic<bool> draining{false};
  const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(clock.wall_now().time_since_epoch()).count();
  ChatHandler chat(config_, chat_pipeline, clock);
  ModelsHandler models(config_, now_unix);
  HealthHandler health(config_, clock, usable_deployments(cfg, providers), draining);
  MetricsHandler metrics_handler(metrics, cfg.metrics.bearer_token);

  EndpointTable endpoints;
  endpoints.add(http::verb::post, "/v1/chat/completions", Access::kCaller, chat);
  endpoints.add(http::verb::get, "/v1/models", Access::kCaller, models);
  endpoints.add(http::verb::get, "/v1/models/", Access::kCaller, models);
  endpoints.add(http::verb::get, "/health", Access::kPublic, health);
  endpoints.add(http::verb::get, "/health/ready", Access::kPublic, health);
  endpoints.add(http::verb::get, "/metrics", Access::kPublic, metrics_handler);

  Connections connections;
  RequestIds request_ids(std::random_device{}() ^ static_cast<std::uint64_t>(now_unix) << 20);
  ServerContext server{cfg.server, endpoints, metrics, clock, connections, request_ids, draining,
                       cfg.logging.format == "json"};

  Listener listener(io, server, listen_endpoint(io, cfg.server.host, cfg.server.port));
  listener.start();
  const auto bound = listener.local_endpoint();
  spdlog::info("tollgate {} listening on http://{}:{} ({} threads, {} models, pipeline: {})", TOLLGATE_VERSION,
               display_host(bound.address().to_string()), bound.port(), threads, cfg.models.size(),
               fmt::join(chat_pipeline.names(), " > "));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  bool forced = false;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received signal {}: draining {} connection(s), at most {} ms", signal, connections.size(),
                 cfg.server.shutdown_grace.count());
    draining = true;
    listener.stop();
    grace.expires_after(cfg.server.shutdown_grace);
    grace.async_wait([&](const boost::system::error_code& timer_ec) {
      if (timer_ec) return;
      spdlog::warn("shutdown grace of {} ms passed; closing {} connection(s)", cfg.server.shutdown_grace.count(),
                   connections.size());
      forced = true;
      connections.close_all();
      io.stop();
    });
    connections.drain([&] { asio::post(io, [&] { io.stop(); }); });
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : pool) thread.join();
  // A late second signal must not kill the process on its way out with a signal status.
  boost::system::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  spdlog::info("tollgate stopped{}", forced ? " (grace period expired)" : "");
  if (forced) {
    // Sessions still suspended hold references to the services above; skip their unwinding.
    spdlog::shutdown();
    std::_Exit(0);
  }
  return 0;
}

}  // namespace tollgate::server
