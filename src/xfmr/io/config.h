// Typed configuration: plain structs that list their fields with visit(), read from JSON files and overridden
// from the command line with dotted keys. One format, documented here.
//
// A config struct (gemma.cpp style):
//   enum class Schedule { constant, cosine, linear };
//   constexpr std::array<std::string_view, 3> enum_names(Schedule) { return {"constant", "cosine", "linear"}; }
//   struct TrainConfig {
//     int64_t steps = 1000;
//     double lr = 3e-4;
//     Schedule schedule = Schedule::cosine;
//     template <class V> void visit(V& v) {
//       v("steps", steps, "training steps");
//       v("lr", lr, "peak learning rate");
//       v("schedule", schedule, "constant|cosine|linear");
//     }
//     void validate() const { XF_CHECK(steps > 0, "steps must be > 0, got ", steps); }  // optional
//   };
//   struct RunConfig { TrainConfig train; uint64_t seed = 0; template <class V> void visit(V& v) {...} };
//
// Field types: int64_t, int, uint64_t, double, bool, std::string, enums (an `enum_names(E)` overload found by ADL
// returning the names indexed by the enum's value 0..N-1; stored as those strings), and nested structs that have
// visit() themselves (their fields get dotted keys: "train.lr"). Field names must not contain '.' or '='.
//
// JSON files: one object; nested structs are nested objects; comments and trailing commas are errors. Missing keys
// keep their current (default) values; unknown keys are errors. Types are strict: integers need a JSON integer (or
// an integral number such as 1e5, within range), doubles any JSON number, bools true/false, strings and enums a
// JSON string. to_json writes every field (the fully resolved config), in field order; doubles are written with
// enough digits to read back bit-identically.
//
// Overrides: "key=value" with a dotted key; the value is parsed per the field's type: integers as decimal (or an
// integral float literal like 1e5), doubles as C numbers (finite only), bools as true|false|1|0, strings verbatim
// (everything after the first '='), enums by name.
//
// Validation: a struct may define `void validate() const` throwing xfmr::Error (XF_CHECK) that names the bad
// field; validate(cfg) calls it for every nested struct (inner first) and then the root, prefixing the section
// ("invalid config section 'train': steps must be > 0, got 0"). load_config validates after applying overrides;
// from_json and apply_override do not (a partial state may be invalid on the way).
//
// All mutating calls give the strong guarantee: on Error the config is unchanged.
#pragma once
#include <concepts>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "xfmr/core/check.h"

namespace xfmr::config {

using Json = nlohmann::ordered_json;

namespace detail {

struct ProbeVisitor {
  template <class T>
  void operator()(const char*, T&, const char* = "") {}
};

// Non-template helpers (config.cc). `key` is the full dotted key, for messages.
void read_json(int64_t& dst, const Json& v, const std::string& key);
void read_json(int& dst, const Json& v, const std::string& key);
void read_json(uint64_t& dst, const Json& v, const std::string& key);
void read_json(double& dst, const Json& v, const std::string& key);
void read_json(bool& dst, const Json& v, const std::string& key);
void read_json(std::string& dst, const Json& v, const std::string& key);
void read_string(int64_t& dst, std::string_view s, const std::string& key);
void read_string(int& dst, std::string_view s, const std::string& key);
void read_string(uint64_t& dst, std::string_view s, const std::string& key);
void read_string(double& dst, std::string_view s, const std::string& key);
void read_string(bool& dst, std::string_view s, const std::string& key);
void read_string(std::string& dst, std::string_view s, const std::string& key);
// Index of `s` in `names`, or an Error naming the key and the allowed names. `from_json` picks the wording.
size_t enum_index(std::span<const std::string_view> names, std::string_view s, const std::string& key);
std::string enum_type_name(std::span<const std::string_view> names);
[[noreturn]] void throw_wrong_json_type(const std::string& key, const char* expected, const Json& v);
[[noreturn]] void throw_unknown_key(const std::string& key, const std::vector<std::string>& valid);
[[noreturn]] void throw_section_assigned(const std::string& key, const std::vector<std::string>& valid);
Json parse_config_file(const std::string& path);
void write_config_file(const std::string& path, const Json& j);

template <class T>
constexpr const char* scalar_type_name() {
  if constexpr (std::is_same_v<T, int64_t>) return "int64";
  else if constexpr (std::is_same_v<T, int>) return "int";
  else if constexpr (std::is_same_v<T, uint64_t>) return "uint64";
  else if constexpr (std::is_same_v<T, double>) return "double";
  else if constexpr (std::is_same_v<T, bool>) return "bool";
  else return "string";
}

}  // namespace detail

template <class T>
concept ConfigStruct = std::is_class_v<T> && requires(T& t, detail::ProbeVisitor& v) { t.visit(v); };
template <class T>
concept ConfigEnum = std::is_enum_v<T> && requires(T e) { enum_names(e); };
template <class T>
concept ConfigScalar = std::is_same_v<T, int64_t> || std::is_same_v<T, int> || std::is_same_v<T, uint64_t> ||
                       std::is_same_v<T, double> || std::is_same_v<T, bool> || std::is_same_v<T, std::string>;
template <class T>
concept HasValidate = requires(const T& t) { t.validate(); };

namespace detail {

template <class T>
constexpr void check_field_type() {
  static_assert(ConfigStruct<T> || ConfigEnum<T> || ConfigScalar<T>,
                "config field type must be int64_t, int, uint64_t, double, bool, std::string, an enum with "
                "enum_names(E), or a struct with visit()");
}

template <ConfigEnum E>
std::string_view enum_name(E e) {
  const auto names = enum_names(e);
  const auto i = static_cast<size_t>(e);
  XF_CHECK(i < std::size(names), "config: enum value ", i, " has no name in enum_names");
  return names[i];
}

template <class T>
std::string type_name() {
  if constexpr (ConfigEnum<T>) {
    const auto names = enum_names(T{});
    return enum_type_name(std::span<const std::string_view>(names));
  } else {
    return scalar_type_name<T>();
  }
}

template <class T>
Json field_to_json(const T& v) {
  if constexpr (ConfigEnum<T>) return Json(std::string(enum_name(v)));
  else return Json(v);
}

struct ToJsonVisitor {
  Json* out;
  template <class T>
  void operator()(const char* name, T& ref, const char* = "") {
    check_field_type<T>();
    if constexpr (ConfigStruct<T>) {
      Json sub = Json::object();
      ToJsonVisitor v{&sub};
      ref.visit(v);
      (*out)[name] = std::move(sub);
    } else {
      (*out)[name] = field_to_json(ref);
    }
  }
};

// Dotted keys of every leaf field under a struct, with their types, current values and help strings.
struct LeafInfo {
  std::string key, type, value, help;
};
struct LeafVisitor {
  std::string prefix;
  std::vector<LeafInfo>* out;
  template <class T>
  void operator()(const char* name, T& ref, const char* help = "") {
    check_field_type<T>();
    if constexpr (ConfigStruct<T>) {
      LeafVisitor v{prefix + name + ".", out};
      ref.visit(v);
    } else {
      out->push_back({prefix + name, type_name<T>(), field_to_json(ref).dump(), help});
    }
  }
};

template <class C>
std::vector<LeafInfo> leaves(C& c, const std::string& prefix) {
  std::vector<LeafInfo> out;
  LeafVisitor v{prefix, &out};
  c.visit(v);
  return out;
}
template <class C>
std::vector<std::string> leaf_keys(C& c, const std::string& prefix) {
  std::vector<std::string> keys;
  for (auto& l : leaves(c, prefix)) keys.push_back(std::move(l.key));
  return keys;
}

template <class T>
void read_field_json(T& dst, const Json& v, const std::string& key) {
  if constexpr (ConfigEnum<T>) {
    if (!v.is_string()) throw_wrong_json_type(key, "a string", v);
    const auto names = enum_names(dst);
    dst = static_cast<T>(enum_index(std::span<const std::string_view>(names), v.get<std::string>(), key));
  } else {
    read_json(dst, v, key);
  }
}

template <class C>
void from_json_impl(C& c, const Json& j, const std::string& prefix);

struct FromJsonVisitor {
  const Json* obj;
  std::string prefix;
  std::vector<std::string> seen;
  template <class T>
  void operator()(const char* name, T& ref, const char* = "") {
    check_field_type<T>();
    seen.emplace_back(name);
    auto it = obj->find(name);
    if (it == obj->end()) return;
    const std::string key = prefix + name;
    if constexpr (ConfigStruct<T>) {
      if (!it->is_object()) throw_wrong_json_type(key, "an object (config section)", *it);
      from_json_impl(ref, *it, key + ".");
    } else {
      read_field_json(ref, *it, key);
    }
  }
};

template <class C>
void from_json_impl(C& c, const Json& j, const std::string& prefix) {
  if (!j.is_object()) throw_wrong_json_type(prefix.empty() ? "(root)" : prefix.substr(0, prefix.size() - 1),
                                            "an object", j);
  FromJsonVisitor v{&j, prefix, {}};
  c.visit(v);
  for (const auto& item : j.items()) {
    bool known = false;
    for (const auto& s : v.seen) known = known || s == item.key();
    if (!known) throw_unknown_key(prefix + item.key(), leaf_keys(c, prefix));
  }
}

struct OverrideVisitor {
  std::string_view rest;  // the part of the key below this struct
  std::string_view value;
  const std::string* full_key;
  bool found = false;
  template <class T>
  void operator()(const char* name, T& ref, const char* = "") {
    check_field_type<T>();
    if (found) return;
    const size_t dot = rest.find('.');
    if (rest.substr(0, dot) != name) return;
    if constexpr (ConfigStruct<T>) {
      if (dot == std::string_view::npos) throw_section_assigned(*full_key, leaf_keys(ref, *full_key + "."));
      OverrideVisitor v{rest.substr(dot + 1), value, full_key};
      ref.visit(v);
      found = v.found;
    } else {
      if (dot != std::string_view::npos) return;  // "lr.x": no such key below a value
      if constexpr (ConfigEnum<T>) {
        const auto names = enum_names(ref);
        ref = static_cast<T>(enum_index(std::span<const std::string_view>(names), value, *full_key));
      } else {
        read_string(ref, value, *full_key);
      }
      found = true;
    }
  }
};

template <class C>
void validate_impl(C& c, const std::string& section);

struct ValidateVisitor {
  std::string prefix;
  template <class T>
  void operator()(const char* name, T& ref, const char* = "") {
    if constexpr (ConfigStruct<T>) validate_impl(ref, prefix + name);
  }
};

template <class C>
void validate_impl(C& c, const std::string& section) {
  ValidateVisitor v{section.empty() ? "" : section + "."};
  c.visit(v);
  if constexpr (HasValidate<C>) {
    try {
      static_cast<const C&>(c).validate();
    } catch (const Error& e) {
      throw Error(xfmr::detail::concat("invalid config", section.empty() ? "" : " section '" + section + "'", ": ",
                                       e.what()));
    }
  }
}

}  // namespace detail

// The fully resolved config: every field, nested structs as objects, in field order.
template <ConfigStruct C>
Json to_json(const C& cfg) {
  Json out = Json::object();
  detail::ToJsonVisitor v{&out};
  const_cast<C&>(cfg).visit(v);  // visitors that only read
  return out;
}

// Sets the fields present in `j` (an object); Error on unknown keys (listing the valid ones) and wrong types.
template <ConfigStruct C>
void from_json(C& cfg, const Json& j) {
  C tmp = cfg;
  detail::from_json_impl(tmp, j, "");
  cfg = std::move(tmp);
}
template <ConfigStruct C>
void from_json(C& cfg, const nlohmann::json& j) {
  from_json(cfg, Json(j));
}

// Applies one "dotted.key=value" override; Error naming the key when it is unknown or the value does not parse.
template <ConfigStruct C>
void apply_override(C& cfg, std::string_view assignment) {
  const size_t eq = assignment.find('=');
  XF_CHECK(eq != std::string_view::npos && eq > 0, "config override '", assignment,
           "' is not of the form key=value");
  const std::string key(assignment.substr(0, eq));
  C tmp = cfg;
  detail::OverrideVisitor v{key, assignment.substr(eq + 1), &key};
  tmp.visit(v);
  if (!v.found) detail::throw_unknown_key(key, detail::leaf_keys(tmp, ""));
  cfg = std::move(tmp);
}
template <ConfigStruct C>
void apply_overrides(C& cfg, std::span<const std::string> assignments) {
  C tmp = cfg;
  for (const auto& a : assignments) apply_override(tmp, a);
  cfg = std::move(tmp);
}

// Runs every validate() hook: nested structs first, then the root.
template <ConfigStruct C>
void validate(const C& cfg) {
  detail::validate_impl(const_cast<C&>(cfg), "");
}

// defaults <- JSON file at `path` <- overrides, then validate. Errors name the file (with line and column for
// malformed JSON) or the override.
template <ConfigStruct C>
void load_config(C& cfg, const std::string& path, std::span<const std::string> overrides = {}) {
  C tmp = cfg;
  const Json j = detail::parse_config_file(path);
  try {
    from_json(tmp, j);
  } catch (const Error& e) {
    throw Error(xfmr::detail::concat("config file '", path, "': ", e.what()));
  }
  apply_overrides(tmp, overrides);
  validate(tmp);
  cfg = std::move(tmp);
}

// Writes to_json(cfg) (indented) atomically, e.g. next to a checkpoint; load_config reads it back exactly.
template <ConfigStruct C>
void save_config(const C& cfg, const std::string& path) {
  detail::write_config_file(path, to_json(cfg));
}

// All leaf keys, dotted, in field order.
template <ConfigStruct C>
std::vector<std::string> config_keys(const C& cfg) {
  return detail::leaf_keys(const_cast<C&>(cfg), "");
}

// One line per field: "  train.lr = 0.0003  (double)  peak learning rate", for --help.
template <ConfigStruct C>
std::string config_help(const C& cfg) {
  std::string out;
  for (const auto& l : detail::leaves(const_cast<C&>(cfg), ""))
    out += "  " + l.key + " = " + l.value + "  (" + l.type + ")" + (l.help.empty() ? "" : "  " + l.help) + "\n";
  return out;
}

}  // namespace xfmr::config
