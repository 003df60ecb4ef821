// The composition root: services, endpoints, threads, signals, graceful shutdown.
#include "server/app.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "adapters/http/upstream_client.hpp"
#include "adapters/registry.hpp"
#include "adapters/webhook/webhook_notifier.hpp"
#include "core/cache/local_embedder.hpp"
#include "core/cache/provider_embedder.hpp"
#include "core/identity/authenticator.hpp"
#include "core/identity/upstream_keys.hpp"
#include "core/identity/virtual_keys.hpp"
#include "core/money/budget_book.hpp"
#include "core/money/budget_specs.hpp"
#include "core/money/price_table.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/stages.hpp"
#include "core/ratelimit/shared_counters.hpp"
#include "core/routing/health_checks.hpp"
#include "core/security/sealer.hpp"
#include "core/store/sqlite_store.hpp"
#include "server/handlers/admin_audit_handler.hpp"
#include "server/handlers/admin_budgets_handler.hpp"
#include "server/handlers/admin_cache_handler.hpp"
#include "server/handlers/admin_providers_handler.hpp"
#include "server/handlers/admin_keys_handler.hpp"
#include "server/handlers/admin_usage_handler.hpp"
#include "server/handlers/admin_virtual_keys_handler.hpp"
#include "server/handlers/chat_handler.hpp"
#include "server/handlers/health_handler.hpp"
#include "server/handlers/metrics_handler.hpp"
#include "server/handlers/models_handler.hpp"
#include "server/listener.hpp"
#include "server/sweeper.hpp"

namespace tollgate::server {
namespace {

namespace asio = boost::asio;

/// Deployments a request can reach: their provider exists and this build can call it.
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

std::optional<std::string> env_value(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

/// Stops at start-up when the secret key is not the one the store's keys were sealed with, before
/// any key is read: a clear message instead of garbage credentials sent upstream.
void check_secret_key(core::Store& store, const core::Sealer& sealer, const core::SecretKey& secret) {
  constexpr std::string_view kCheck = "tollgate secret key check";
  if (auto stored = store.load_meta("secret_check")) {
    if (sealer.open(*stored, "secret_check") != kCheck)
      throw std::runtime_error("the secret key from " + secret.source +
                               " is not the one this data directory's provider keys were stored with; set "
                               "TOLLGATE_SECRET_KEY to the original key (or restore data/secret.key)");
    return;
  }
  store.put_meta("secret_check", sealer.seal(kCheck, "secret_check"));
  store.flush();
}

/// The price map: `pricing.file`, or the copy built into the binary when the default path is
/// absent (tollgate started outside its source tree). A file that is named but unreadable stops
/// start-up.
core::PriceTable load_prices(const config::PricingConfig& pricing) {
  static const config::PricingConfig kDefault;
  if (pricing.file == kDefault.file && !std::filesystem::exists(pricing.file)) {
    auto table = core::PriceTable::builtin();
    spdlog::info("prices: the built-in map ({} models, as of {}); set pricing.file to use another", table.size(),
                 table.as_of());
    return table;
  }
  auto table = core::PriceTable::load(pricing.file);
  spdlog::info("prices: {} models from {}{}{}", table.size(), pricing.file,
               table.as_of().empty() ? "" : ", as of " + table.as_of(),
               table.skipped() != 0 ? fmt::format(" ({} entries without token prices skipped)", table.skipped()) : "");
  return table;
}

/// Deadlines of one embedding for semantic matching: it delays the request it is for, and a
/// request whose embedding is late just goes on unmatched.
constexpr core::AttemptTimeouts kEmbeddingTimeouts{std::chrono::milliseconds(2'000), std::chrono::milliseconds(3'000),
                                                   std::chrono::milliseconds(3'000), std::chrono::milliseconds(3'000)};

/// How often expired cache entries and dedup flights are dropped.
constexpr std::chrono::milliseconds kSweepInterval{30'000};

/// Stops the io_context once no shared stream is still read for a departed client (dedup): such
/// a stream holds its leader's ledger row until it ends. The shutdown grace bounds the wait.
asio::awaitable<void> stop_after_pumps(asio::io_context& io, const core::FlightTable* flights) {
  asio::steady_timer timer(io);
  while (flights != nullptr && flights->pumping() > 0) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
  io.stop();
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

  // Identity: the store, the secret that seals provider keys, the key pools, who may call.
  const auto secret = core::load_secret_key(cfg.storage.data_dir, env_value("TOLLGATE_SECRET_KEY"));
  if (secret.generated)
    spdlog::warn("generated a new secret key in {} (mode 0600): back it up with the data directory; stored provider "
                 "keys cannot be read without it",
                 secret.source);
  const core::Sealer sealer(secret.bytes);
  const auto store = core::open_sqlite_store(cfg.storage.data_dir);
  check_secret_key(*store, sealer, secret);
  core::UpstreamKeys upstream_keys(cfg, *store, sealer, store->load_upstream_keys());
  core::VirtualKeys virtual_keys(*store, store->load_virtual_keys());
  const auto master_key = env_value("TOLLGATE_MASTER_KEY");
  const auto endpoint = listen_endpoint(io, cfg.server.host, cfg.server.port);
  const auto auth_mode = core::resolve_auth_mode(cfg.auth, endpoint.address().is_loopback(), master_key.has_value());
  const core::Authenticator auth(auth_mode, master_key, virtual_keys, clock);
  if (auth_mode == core::AuthMode::kOpen)
    spdlog::warn("auth is open: any client that can reach tollgate may call it without a key{}",
                 master_key ? "" : ", and the admin API needs no master key (set TOLLGATE_MASTER_KEY to close it)");
  else if (!master_key)
    spdlog::warn("TOLLGATE_MASTER_KEY is not set: the admin API is disabled, so no virtual key can be issued");
  const auto counters = core::make_in_process_counters();

  adapters::http::UpstreamClient client(io.get_executor(), adapters::http::UpstreamClient::Options{});
  adapters::ProviderRegistry providers(cfg, client, &upstream_keys, &clock);
  for (const auto* provider : providers.all())
    if (!provider->available())
      spdlog::warn("provider '{}' has type '{}', which this build cannot call yet: its deployments are skipped",
                   provider->id(), provider->type());
  // Money: prices, budgets (config, admin API, virtual keys) with their spend read back from the
  // ledger before the first request, and the alert webhook.
  const core::Pricing pricing(cfg, load_prices(cfg.pricing));
  for (const auto& deployment : pricing.unpriced())
    spdlog::warn("deployment {} has no price: its requests are served and counted at 0 USD (add it to the prices file "
                 "or give the deployment a `price`)",
                 deployment);
  std::unique_ptr<adapters::WebhookNotifier> webhook;
  if (!cfg.alerts.webhook.empty()) {
    adapters::WebhookNotifier::Options options;
    options.url = cfg.alerts.webhook;
    webhook = std::make_unique<adapters::WebhookNotifier>(io.get_executor(), options);
  }
  core::BudgetBook budgets(*store, metrics, webhook.get());
  {
    const auto now = core::unix_now(clock);
    budgets.replace_origin("config", core::config_budgets(cfg), now);
    for (const auto& record : store->load_budgets())
      if (auto spec = core::budget_from_record(record)) budgets.put(std::move(*spec), now);
    for (const auto& key : virtual_keys.list())
      if (auto spec = core::key_budget(*key)) budgets.put(std::move(*spec), now);
    store->flush();  // the spend reads queued above have answered
    if (budgets.size() != 0) spdlog::info("budgets: {} enforced, spend recovered from the ledger", budgets.size());
  }
  // Routing and resilience: every deployment's breaker, latency, load and limits.
  const core::ProviderLookup find_provider = [&providers](std::string_view id) { return providers.find(id); };
  core::Fleet fleet(cfg, find_provider);
  core::SystemRandom random;
  core::HealthChecker health_checker(fleet, cfg.routing.health_check, clock);
  std::unique_ptr<core::ResponseCache> cache;
  if (cfg.cache.mode != "off") {
    core::ResponseCacheOptions options;
    options.max_bytes = cfg.cache.max_bytes;
    options.default_ttl = cfg.cache.ttl;
    cache = std::make_unique<core::ResponseCache>(clock, options);
  }
  std::unique_ptr<core::FlightTable> flights;
  if (cfg.dedup.enabled) flights = std::make_unique<core::FlightTable>(clock, cfg.dedup.recent_window);
  std::unique_ptr<core::Embedder> embedder;
  if (cfg.cache.mode == "semantic" || (cfg.dedup.enabled && cfg.dedup.semantic.enabled)) {
    const auto& chosen = cfg.dedup.semantic.embedder;
    core::Provider* provider = chosen.provider.empty() ? nullptr : providers.find(chosen.provider);
    if (provider != nullptr) {
      embedder = std::make_unique<core::ProviderEmbedder>(*provider, chosen.model, chosen.dimensions, kEmbeddingTimeouts);
    } else {
      embedder = std::make_unique<core::LocalEmbedder>();
    }
    spdlog::info("semantic matching: {} embedder {}, threshold {}", provider != nullptr ? "provider" : "built-in",
                 embedder->name(), cfg.dedup.semantic.threshold);
  }
  const core::Pipeline chat_pipeline = core::build_chat_pipeline(core::StageDeps{config_, find_provider, clock, metrics,
                                                                                *counters, pricing, budgets, fleet, random,
                                                                                cache.get(), flights.get(), embedder.get()});
  // Expired cache entries and dedup flights would otherwise wait for a lookup of their key.
  Sweeper sweeper(io.get_executor(), kSweepInterval, [&cache, &flights] {
    if (cache) cache->purge_expired();
    if (flights) flights->purge_expired();
  });
  sweeper.start();

  std::atomic<bool> draining{false};
  const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(clock.wall_now().time_since_epoch()).count();
  ChatHandler chat(config_, chat_pipeline, pricing, clock);
  ChatHandler embeddings(config_, chat_pipeline, pricing, clock, core::Operation::kEmbeddings);
  ModelsHandler models(config_, now_unix);
  HealthHandler health(config_, clock, fleet, draining);
  MetricsHandler metrics_handler(metrics, cfg.metrics.bearer_token, [&metrics, &upstream_keys, &clock, &fleet, &cache] {
    const auto now = clock.now();
    if (cache) {
      const auto stats = cache->stats();
      metrics.cache_size(stats.entries, stats.bytes);
    }
    for (const auto& state : fleet.all()) {
      const auto circuit = state->breaker().state(now);
      metrics.circuit_state(state->label(), circuit == core::CircuitState::kClosed ? 0
                                            : circuit == core::CircuitState::kHalfOpen ? 1 : 2);
    }
    for (const auto& key : upstream_keys.list()) {
      const auto& r = key->record;
      const int state = r.state == "disabled" ? 2 : upstream_keys.cooling_until(r.id, now) ? 1 : 0;
      metrics.upstream_key_state(r.provider_id, r.id, state);
    }
  });
  const AdminServices admin{config_, upstream_keys, virtual_keys, *store, clock, budgets};
  AdminKeysHandler admin_keys(admin);
  AdminVirtualKeysHandler admin_virtual_keys(admin);
  AdminAuditHandler admin_audit(admin);
  AdminBudgetsHandler admin_budgets(admin);
  AdminUsageHandler admin_usage(admin);
  AdminProvidersHandler admin_providers(admin, fleet);
  AdminCacheHandler admin_cache(cache.get());

  EndpointTable endpoints;
  endpoints.add(http::verb::post, "/v1/chat/completions", Access::kCaller, chat);
  endpoints.add(http::verb::post, "/v1/embeddings", Access::kCaller, embeddings);
  endpoints.add(http::verb::get, "/v1/models", Access::kCaller, models);
  endpoints.add(http::verb::get, "/v1/models/", Access::kCaller, models);
  endpoints.add(http::verb::get, "/health", Access::kPublic, health);
  endpoints.add(http::verb::get, "/health/ready", Access::kPublic, health);
  endpoints.add(http::verb::get, "/metrics", Access::kPublic, metrics_handler);
  endpoints.add(http::verb::post, "/api/v1/keys", Access::kAdmin, admin_keys);
  endpoints.add(http::verb::get, "/api/v1/keys", Access::kAdmin, admin_keys);
  for (auto verb : {http::verb::get, http::verb::patch, http::verb::delete_})
    endpoints.add(verb, "/api/v1/keys/", Access::kAdmin, admin_keys);
  endpoints.add(http::verb::post, "/api/v1/virtual-keys", Access::kAdmin, admin_virtual_keys);
  endpoints.add(http::verb::get, "/api/v1/virtual-keys", Access::kAdmin, admin_virtual_keys);
  for (auto verb : {http::verb::get, http::verb::patch, http::verb::delete_, http::verb::post})
    endpoints.add(verb, "/api/v1/virtual-keys/", Access::kAdmin, admin_virtual_keys);
  endpoints.add(http::verb::get, "/api/v1/audit", Access::kAdmin, admin_audit);
  endpoints.add(http::verb::post, "/api/v1/budgets", Access::kAdmin, admin_budgets);
  endpoints.add(http::verb::get, "/api/v1/budgets", Access::kAdmin, admin_budgets);
  for (auto verb : {http::verb::get, http::verb::patch, http::verb::delete_})
    endpoints.add(verb, "/api/v1/budgets/", Access::kAdmin, admin_budgets);
  endpoints.add(http::verb::get, "/api/v1/usage", Access::kAdmin, admin_usage);
  endpoints.add(http::verb::get, "/api/v1/usage/top", Access::kAdmin, admin_usage);
  endpoints.add(http::verb::get, "/api/v1/providers", Access::kAdmin, admin_providers);
  endpoints.add(http::verb::get, "/api/v1/cache/stats", Access::kAdmin, admin_cache);
  endpoints.add(http::verb::delete_, "/api/v1/cache", Access::kAdmin, admin_cache);

  Connections connections;
  RequestIds request_ids(std::random_device{}() ^ static_cast<std::uint64_t>(now_unix) << 20);
  ServerContext server{cfg.server, endpoints, metrics, clock, connections, request_ids, draining, auth, *store,
                       cfg.logging.format == "json"};

  Listener listener(io, server, endpoint);
  listener.start();
  const auto bound = listener.local_endpoint();
  spdlog::info("tollgate {} listening on http://{}:{} ({} threads, {} models, auth {}, pipeline: {})", TOLLGATE_VERSION,
               display_host(bound.address().to_string()), bound.port(), threads, cfg.models.size(),
               auth_mode == core::AuthMode::kOpen ? "open" : "virtual-keys", fmt::join(chat_pipeline.names(), " > "));

  if (cfg.routing.health_check.interval.count() > 0) {
    asio::co_spawn(io, health_checker.run(), asio::detached);
    spdlog::info("active health checks: every deployment every {} ms", cfg.routing.health_check.interval.count());
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  bool forced = false;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received signal {}: draining {} connection(s), at most {} ms", signal, connections.size(),
                 cfg.server.shutdown_grace.count());
    draining = true;
    health_checker.stop();
    sweeper.stop();
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
    connections.drain([&] { asio::co_spawn(io, stop_after_pumps(io, flights.get()), asio::detached); });
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
  // Every queued write (ledger rows of the requests just finished included) reaches the disk, and
  // alerts already queued get one last try.
  store->flush();
  if (webhook && !forced) {
    // The io_context has stopped: run it on one thread for the webhook's last sends.
    io.restart();
    std::thread sender([&io] { io.run_for(std::chrono::seconds(6)); });
    webhook->drain(std::chrono::seconds(5));
    io.stop();
    sender.join();
  }
  spdlog::info("tollgate stopped{}", forced ? " (grace period expired)" : "");
  if (forced) {
    // Sessions still suspended hold references to the services above; skip their unwinding.
    spdlog::shutdown();
    std::_Exit(0);
  }
  return 0;
}

}  // namespace tollgate::server
