#include "xfmr/cli/args.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "xfmr/core/check.h"

namespace xfmr::cli {

Args::Args(std::string verb, std::string usage, std::vector<FlagSpec> flags)
    : verb_(std::move(verb)), usage_(std::move(usage)), flags_(std::move(flags)) {
  flags_.push_back({"help", "show this help and exit", "", true});
}

const FlagSpec* Args::find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

std::string Args::help_text() const {
  std::ostringstream os;
  os << usage_ << "\n\nOptions:\n";
  for (const auto& f : flags_) {
    std::string lhs = "  --" + f.name + (f.is_bool ? "" : " VALUE");
    if (lhs.size() < 26) lhs.resize(26, ' ');
    os << lhs << " " << f.help;
    if (!f.default_value.empty()) os << " (default: " << f.default_value << ")";
    os << "\n";
  }
  return os.str();
}

bool Args::parse(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    XF_CHECK(a.rfind("--", 0) == 0, verb_, ": unexpected argument '", a, "' (see xfmr ", verb_, " --help)");
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool has_eq = eq != std::string::npos;
    if (has_eq) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* f = find(name);
    if (!f) {
      std::string valid;
      for (const auto& g : flags_) valid += (valid.empty() ? "--" : ", --") + g.name;
      throw Error(verb_ + ": unknown option '--" + name + "' (valid: " + valid + ")");
    }
    if (f->is_bool) {
      XF_CHECK(!has_eq || value == "true" || value == "false", verb_, ": --", name, " takes no value");
      if (!has_eq) value = "true";
    } else if (!has_eq) {
      XF_CHECK(i + 1 < argc, verb_, ": option --", name, " needs a value");
      value = argv[++i];
    }
    values_[name].push_back(value);
  }
  if (get_bool("help")) {
    std::fputs(help_text().c_str(), stdout);
    return false;
  }
  return true;
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.back();
  const FlagSpec* f = find(name);
  return f ? f->default_value : "";
}

int64_t Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  XF_CHECK(!v.empty() && end && *end == '\0', verb_, ": --", name, " expects an integer, got '", v, "'");
  return x;
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  XF_CHECK(!v.empty() && end && *end == '\0', verb_, ": --", name, " expects a number, got '", v, "'");
  return x;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::get_bool(const std::string& name) const { return get(name) == "true"; }

}  // namespace xfmr::cli
