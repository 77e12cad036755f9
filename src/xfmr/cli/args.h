// A small command-line parser for xfmr verbs: --name value, --name=value, boolean --flag, and --help.
// An option given twice keeps every value (get_all); get() returns the last.
// Unknown flags are an error that lists the valid ones, so typos never pass silently.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace xfmr::cli {

struct FlagSpec {
  std::string name;   // without the leading dashes
  std::string help;
  std::string default_value;  // "" for none
  bool is_bool = false;
};

class Args {
 public:
  Args(std::string verb, std::string usage, std::vector<FlagSpec> flags);
  // Parses argv (after the verb). Returns false when --help was printed (the caller exits 0). Throws Error on bad input.
  bool parse(int argc, char** argv);
  std::string get(const std::string& name) const;
  int64_t get_int(const std::string& name) const;    // Error naming the flag when not an integer
  double get_double(const std::string& name) const;  // Error naming the flag when not a number
  bool get_bool(const std::string& name) const;
  bool has(const std::string& name) const;  // given on the command line
  std::vector<std::string> get_all(const std::string& name) const;  // every value of a repeated option, in order
  std::string help_text() const;

 private:
  const FlagSpec* find(const std::string& name) const;
  std::string verb_, usage_;
  std::vector<FlagSpec> flags_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace xfmr::cli
