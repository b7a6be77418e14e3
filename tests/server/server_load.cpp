// server_load: a loopback load generator for `edgellm serve` (the benchmark in
// docs/BENCHMARKS.md, section "Server: continuous batching"). Not a test.
//   server_load --port P [--clients 1,4,8,16] [--requests 2] [--max-tokens 64] [--prompt-bytes 32]
//               [--soak-seconds S --soak-clients N --pid SERVER_PID]
// For each client count: that many threads each send `requests` streaming greedy completions one
// after another; prints the aggregate generated tokens/s over the phase and the p50/p99 time to
// the first streamed chunk. A soak runs clients for S seconds and samples the server's VmRSS.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 8080;
  std::vector<int> clients = {1, 4, 8, 16};
  int requests = 2;
  int max_tokens = 64;
  int prompt_bytes = 32;
  int soak_seconds = 0;
  int soak_clients = 8;
  long pid = 0;
};

struct RequestResult {
  bool ok = false;
  double ttft = 0;
  int64_t completion_tokens = 0;
};

RequestResult run_request(int port, int client, int index, const Options& o) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(600, 0);
  std::string prompt = "client " + std::to_string(client) + " request " + std::to_string(index) + ": ";
  while (static_cast<int>(prompt.size()) < o.prompt_bytes) prompt += static_cast<char>('a' + (prompt.size() * 7 + client) % 26);
  const nlohmann::json body = {{"prompt", prompt}, {"max_tokens", o.max_tokens}, {"temperature", 0},
                               {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  RequestResult r;
  std::string buffer;
  const Clock::time_point start = Clock::now();
  bool first = true;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = body.dump();
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (first) {
      r.ttft = std::chrono::duration<double>(Clock::now() - start).count();
      first = false;
    }
    buffer.append(data, n);
    return true;
  };
  const httplib::Result res = c.send(req);
  if (!res || res->status != 200) return r;
  const size_t at = buffer.rfind("\"usage\":");
  if (at == std::string::npos) return r;
  const size_t begin = buffer.rfind("data: ", at) + 6;
  const nlohmann::json usage = nlohmann::json::parse(buffer.substr(begin, buffer.find("\n\n", at) - begin))["usage"];
  r.completion_tokens = usage["completion_tokens"].get<int64_t>();
  r.ok = true;
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

long rss_kib(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

void phase(const Options& o, int n_clients) {
  std::vector<RequestResult> results;
  std::mutex mutex;
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < n_clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; i < o.requests; ++i) {
        const RequestResult r = run_request(o.port, c, i, o);
        std::lock_guard lock(mutex);
        results.push_back(r);
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t tokens = 0;
  int failed = 0;
  std::vector<double> ttft;
  for (const RequestResult& r : results) {
    if (!r.ok) ++failed;
    tokens += r.completion_tokens;
    ttft.push_back(r.ttft);
  }
  std::printf("clients %2d: %3zu requests (%d failed), %6lld tokens in %6.2f s = %7.2f tok/s; TTFT p50 %.3f s p99 %.3f s\n",
              n_clients, results.size(), failed, static_cast<long long>(tokens), seconds,
              static_cast<double>(tokens) / seconds, percentile(ttft, 0.5), percentile(ttft, 0.99));
  std::fflush(stdout);
}

void soak(const Options& o) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> tokens{0}, requests{0}, failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < o.soak_clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        const RequestResult r = run_request(o.port, c, i, o);
        tokens += r.completion_tokens;
        ++requests;
        if (!r.ok) ++failed;
      }
    });
  const Clock::time_point start = Clock::now();
  for (int s = 0; s <= o.soak_seconds; s += 30) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    std::printf("soak t=%3d s: server VmRSS %ld KiB, %lld requests (%lld failed), %lld tokens\n", s, rss_kib(o.pid),
                static_cast<long long>(requests.load()), static_cast<long long>(failed.load()),
                static_cast<long long>(tokens.load()));
    std::fflush(stdout);
  }
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("soak end: server VmRSS %ld KiB\n", rss_kib(o.pid));
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--port") o.port = std::atoi(v.c_str());
    else if (a == "--clients") o.clients = parse_list(v);
    else if (a == "--requests") o.requests = std::atoi(v.c_str());
    else if (a == "--max-tokens") o.max_tokens = std::atoi(v.c_str());
    else if (a == "--prompt-bytes") o.prompt_bytes = std::atoi(v.c_str());
    else if (a == "--soak-seconds") o.soak_seconds = std::atoi(v.c_str());
    else if (a == "--soak-clients") o.soak_clients = std::atoi(v.c_str());
    else if (a == "--pid") o.pid = std::atol(v.c_str());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (o.soak_seconds > 0) soak(o);
  else
    for (int n : o.clients) phase(o, n);
  return 0;
}
