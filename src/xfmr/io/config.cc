#include "xfmr/io/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "xfmr/io/file_util.h"

namespace xfmr::config::detail {

using xfmr::detail::concat;

namespace {

std::string show(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return concat(v.type_name(), " ", s);
}

std::string show(std::string_view s) {
  std::string out(s.substr(0, 80));
  if (s.size() > 80) out += "...";
  return "'" + out + "'";
}

[[noreturn]] void bad_value(const std::string& key, const char* expected, std::string_view s, const char* why = "") {
  throw Error(concat("config key '", key, "' expects ", expected, ", got ", show(s), why));
}

// An integral double within [lo, hi] (bounds given as exact doubles: -2^63, 2^63, 2^64 ...).
bool integral_in(double d, double lo, double hi_exclusive) {
  return std::isfinite(d) && d == std::trunc(d) && d >= lo && d < hi_exclusive;
}

constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

bool parse_double(std::string_view s, double* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*out);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", " : "") + keys[i];
  return out;
}

}  // namespace

// ---- JSON values ----

void read_json(int64_t& dst, const Json& v, const std::string& key) {
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    dst = v.get<int64_t>();
  } else if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) {
    dst = static_cast<int64_t>(v.get<uint64_t>());
  } else if (v.is_number_float() && integral_in(v.get<double>(), -kTwo63, kTwo63)) {
    dst = static_cast<int64_t>(v.get<double>());
  } else {
    throw_wrong_json_type(key, "an integer (int64)", v);
  }
}

void read_json(int& dst, const Json& v, const std::string& key) {
  int64_t x = 0;
  try {
    read_json(x, v, key);
  } catch (const Error&) {
    throw_wrong_json_type(key, "an integer (int)", v);
  }
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
    throw_wrong_json_type(key, "an integer (int, 32-bit range)", v);
  dst = static_cast<int>(x);
}

void read_json(uint64_t& dst, const Json& v, const std::string& key) {
  if (v.is_number_unsigned()) {
    dst = v.get<uint64_t>();
  } else if (v.is_number_float() && integral_in(v.get<double>(), 0.0, kTwo64)) {
    dst = static_cast<uint64_t>(v.get<double>());
  } else {
    throw_wrong_json_type(key, "a non-negative integer (uint64)", v);
  }
}

void read_json(double& dst, const Json& v, const std::string& key) {
  if (!v.is_number()) throw_wrong_json_type(key, "a number (double)", v);
  dst = v.get<double>();
}

void read_json(bool& dst, const Json& v, const std::string& key) {
  if (!v.is_boolean()) throw_wrong_json_type(key, "a boolean (true or false)", v);
  dst = v.get<bool>();
}

void read_json(std::string& dst, const Json& v, const std::string& key) {
  if (!v.is_string()) throw_wrong_json_type(key, "a string", v);
  dst = v.get<std::string>();
}

// ---- override strings ----

void read_string(int64_t& dst, std::string_view s, const std::string& key) {
  std::string_view t = s;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  int64_t x = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), x);
  if (r.ec == std::errc() && r.ptr == t.data() + t.size()) {
    dst = x;
    return;
  }
  if (r.ec == std::errc::result_out_of_range) bad_value(key, "an integer (int64)", s, " (out of range)");
  double d = 0;
  if (parse_double(s, &d) && integral_in(d, -kTwo63, kTwo63)) {  // 1e5
    dst = static_cast<int64_t>(d);
    return;
  }
  bad_value(key, "an integer (int64)", s);
}

void read_string(int& dst, std::string_view s, const std::string& key) {
  int64_t x = 0;
  try {
    read_string(x, s, key);
  } catch (const Error&) {
    bad_value(key, "an integer (int)", s);
  }
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
    bad_value(key, "an integer (int)", s, " (out of range)");
  dst = static_cast<int>(x);
}

void read_string(uint64_t& dst, std::string_view s, const std::string& key) {
  std::string_view t = s;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  uint64_t x = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), x);  // rejects a leading '-'
  if (r.ec == std::errc() && r.ptr == t.data() + t.size()) {
    dst = x;
    return;
  }
  if (r.ec == std::errc::result_out_of_range) bad_value(key, "a non-negative integer (uint64)", s, " (out of range)");
  double d = 0;
  if (parse_double(s, &d) && integral_in(d, 0.0, kTwo64)) {
    dst = static_cast<uint64_t>(d);
    return;
  }
  bad_value(key, "a non-negative integer (uint64)", s);
}

void read_string(double& dst, std::string_view s, const std::string& key) {
  double d = 0;
  if (!parse_double(s, &d)) bad_value(key, "a finite number (double)", s);
  dst = d;
}

void read_string(bool& dst, std::string_view s, const std::string& key) {
  if (s == "true" || s == "1") {
    dst = true;
  } else if (s == "false" || s == "0") {
    dst = false;
  } else {
    bad_value(key, "a boolean (true|false|1|0)", s);
  }
}

void read_string(std::string& dst, std::string_view s, const std::string&) { dst = std::string(s); }

size_t enum_index(std::span<const std::string_view> names, std::string_view s, const std::string& key) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return i;
  throw Error(concat("config key '", key, "' expects one of ", enum_type_name(names), ", got ", show(s)));
}

std::string enum_type_name(std::span<const std::string_view> names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += concat(i ? "|" : "", names[i]);
  return out;
}

// ---- errors ----

void throw_wrong_json_type(const std::string& key, const char* expected, const Json& v) {
  throw Error(concat("config key '", key, "' expects ", expected, ", got ", show(v)));
}

void throw_unknown_key(const std::string& key, const std::vector<std::string>& valid) {
  // Suggest the closest valid key when it is plausibly a typo.
  std::string best;
  size_t best_d = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& k : valid) {
    const size_t d = edit_distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  throw Error(concat("unknown config key '", key, "' (valid keys: ", valid.empty() ? "none" : join(valid), ")",
                     best.empty() ? "" : "; did you mean '" + best + "'?"));
}

void throw_section_assigned(const std::string& key, const std::vector<std::string>& valid) {
  throw Error(concat("config key '", key, "' is a section, not a value (its keys: ", join(valid), ")"));
}

// ---- files ----

Json parse_config_file(const std::string& path) {
  std::string text;
  try {
    text = io::read_file(path);
  } catch (const Error& e) {
    throw Error(concat("config file: ", e.what()));
  }
  try {
    return Json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    // nlohmann's message carries "parse error at line L, column C: ..."; drop its "[json.exception...] " tag.
    std::string what = e.what();
    const size_t tag = what.find("] ");
    if (!what.empty() && what[0] == '[' && tag != std::string::npos) what = what.substr(tag + 2);
    for (char& c : what)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    const bool comment = e.byte >= 1 && e.byte <= text.size() && text[e.byte - 1] == '/';
    throw Error(concat("config file '", path, "': invalid JSON: ", what,
                       comment ? " (comments are not allowed in config files)" : ""));
  }
}

void write_config_file(const std::string& path, const Json& j) {
  const std::string text = j.dump(2) + "\n";
  io::write_file_atomic(path, [&](io::FileWriter& w) { w.write(text.data(), text.size()); });
}

}  // namespace xfmr::config::detail
