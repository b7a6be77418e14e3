#include "chat_test_util.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace edgellm::chat::testing {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<CorpusCase> load_corpus(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<CorpusCase> cases;
  const std::string header = "##### ";
  size_t pos = text.find("\n" + header);
  while (pos != std::string::npos) {
    const size_t name_begin = pos + 1 + header.size();
    const size_t name_end = text.find('\n', name_begin);
    const size_t sep = text.find("\n-----\n", name_end);
    if (name_end == std::string::npos || sep == std::string::npos) throw std::runtime_error("bad corpus entry in " + path);
    const size_t body_begin = sep + 7;
    size_t next = text.find("\n" + header, body_begin - 1);
    CorpusCase c;
    c.name = text.substr(name_begin, name_end - name_begin);
    const std::string context = text.substr(name_end + 1, sep - name_end - 1 + 1);
    c.context = context.find_first_not_of(" \n") == std::string::npos ? nlohmann::ordered_json()
                                                                        : nlohmann::ordered_json::parse(context);
    const size_t body_end = next == std::string::npos ? text.size() : next;
    c.template_source = body_end > body_begin ? text.substr(body_begin, body_end - body_begin) : std::string();
    cases.push_back(std::move(c));
    pos = next;
  }
  return cases;
}

RenderOptions fixed_time_options() {
  RenderOptions options;
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 13;
  tm.tm_min = 5;
  tm.tm_sec = 9;
  const std::time_t t = timegm(&tm);  // fills in weekday and day of year
  gmtime_r(&t, &tm);
  options.fixed_time = tm;
  return options;
}

std::optional<std::vector<ReferenceResult>> run_python_reference(const nlohmann::ordered_json& cases,
                                                                 std::string* why) {
  if (std::system("/usr/bin/python3 -c 'import jinja2' >/dev/null 2>&1") != 0) {
    *why = "/usr/bin/python3 with jinja2 is not available (apt install python3-jinja2)";
    return std::nullopt;
  }
  char path[] = "/tmp/edgellm_jinja_cases_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  const std::string payload = cases.dump();
  if (write(fd, payload.data(), payload.size()) != static_cast<ssize_t>(payload.size())) {
    close(fd);
    throw std::runtime_error("cannot write the reference cases");
  }
  close(fd);
  const std::string command =
      std::string("/usr/bin/python3 ") + EDGELLM_SOURCE_DIR + "/tests/chat/jinja_reference.py " + path;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 65536> buf;
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  unlink(path);
  if (status != 0) throw std::runtime_error("jinja_reference.py failed with status " + std::to_string(status));
  std::vector<ReferenceResult> results;
  for (const auto& r : nlohmann::json::parse(out)) {
    ReferenceResult result;
    result.ok = r.at("ok").get<bool>();
    result.text = result.ok ? r.at("output").get<std::string>() : r.at("error").get<std::string>();
    results.push_back(std::move(result));
  }
  return results;
}

std::string visible(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      out += hex;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace edgellm::chat::testing
