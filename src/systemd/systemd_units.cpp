#include "systemd/systemd_units.hpp"

#include <cstring>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace xap {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";

// A D-Bus call that fails for reasons other than "no such property" must not hang the loop.
constexpr std::uint64_t kCallTimeoutUsec = 5'000'000;

Error bus_error(int r, const sd_bus_error& e, const std::string& what)
{
    return Error{-r, what + ": " + (e.message ? e.message : std::strerror(-r))};
}

struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    ~BusError() { sd_bus_error_free(&e); }
};

struct Message {
    sd_bus_message* m = nullptr;
    ~Message() { sd_bus_message_unref(m); }
};

Result<std::string> get_string(sd_bus* bus, const std::string& path, const char* iface, const char* name)
{
    BusError err;
    char* value = nullptr;
    const int r = sd_bus_get_property_string(bus, kDest, path.c_str(), iface, name, &err.e, &value);
    if (r < 0) return bus_error(r, err.e, std::string("reading ") + name + " of " + path);
    std::string s(value);
    std::free(value);
    return s;
}

// InvocationID is a 16-byte array; all zeroes while the unit is not running.
Result<std::string> get_invocation_id(sd_bus* bus, const std::string& path)
{
    BusError err;
    Message reply;
    int r = sd_bus_get_property(bus, kDest, path.c_str(), kUnit, "InvocationID", &err.e, &reply.m, "ay");
    if (r < 0) return bus_error(r, err.e, "reading InvocationID of " + path);
    const void* data = nullptr;
    size_t size = 0;
    r = sd_bus_message_read_array(reply.m, 'y', &data, &size);
    if (r < 0) return Error{-r, "decoding InvocationID of " + path};
    static const char* hex = "0123456789abcdef";
    std::string out;
    bool nonzero = false;
    for (size_t i = 0; i < size; ++i) {
        const auto b = static_cast<const unsigned char*>(data)[i];
        nonzero = nonzero || b != 0;
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return nonzero ? out : std::string();
}

}  // namespace

Result<std::unique_ptr<SystemdUnits>> SystemdUnits::connect(sd_event* loop, OnChange on_change)
{
    if (sd_booted() <= 0) return Error{ENOENT, "the system was not booted with systemd"};
    sd_bus* bus = nullptr;
    if (int r = sd_bus_open_system(&bus); r < 0)
        return Error{-r, std::string("cannot connect to the system bus: ") + std::strerror(-r)};
    std::unique_ptr<SystemdUnits> self(new SystemdUnits(bus, std::move(on_change)));
    sd_bus_set_method_call_timeout(bus, kCallTimeoutUsec);
    if (int r = sd_bus_attach_event(bus, loop, SD_EVENT_PRIORITY_NORMAL); r < 0)
        return Error{-r, "cannot attach the bus to the event loop"};
    // Losing the bus means losing track of the miner's state: end the loop (the freeze is released
    // on the way out) and let Restart= bring the daemon back with a fresh connection.
    sd_bus_set_exit_on_disconnect(bus, 1);

    BusError err;
    if (int r = sd_bus_call_method(bus, kDest, kManagerPath, kManager, "Subscribe", &err.e, nullptr, ""); r < 0)
        return bus_error(r, err.e, "subscribing to systemd's signals");
    if (int r = sd_bus_match_signal(bus, &self->reload_match_, kDest, kManagerPath, kManager, "Reloading", on_reloading,
                                    self.get());
        r < 0)
        return Error{-r, "cannot watch systemd reloads"};
    // sd-bus delivers a local Disconnected message before it ends the loop: say why the daemon exits.
    if (int r = sd_bus_match_signal(bus, &self->disconnect_match_, nullptr, "/org/freedesktop/DBus/Local",
                                    "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, nullptr);
        r < 0)
        return Error{-r, "cannot watch the bus connection"};
    return self;
}

SystemdUnits::~SystemdUnits()
{
    for (auto& [name, w] : units_) sd_bus_slot_unref(w.match);
    sd_bus_slot_unref(reload_match_);
    sd_bus_slot_unref(disconnect_match_);
    sd_bus_flush_close_unref(bus_);
}

const UnitInfo& SystemdUnits::info(const std::string& unit) const
{
    static const UnitInfo kUnknown;
    const auto it = units_.find(unit);
    return it == units_.end() ? kUnknown : it->second.info;
}

Status SystemdUnits::watch(const std::string& unit)
{
    if (units_.contains(unit)) return Ok{};
    // LoadUnit answers for units that do not exist too (LoadState=not-found), so a unit installed
    // later is picked up by the same object path.
    BusError err;
    Message reply;
    int r = sd_bus_call_method(bus_, kDest, kManagerPath, kManager, "LoadUnit", &err.e, &reply.m, "s", unit.c_str());
    if (r < 0) return bus_error(r, err.e, "loading unit " + unit);
    const char* path = nullptr;
    if (r = sd_bus_message_read(reply.m, "o", &path); r < 0) return Error{-r, "decoding the path of " + unit};
    Watched& w = units_[unit];
    w.path = path;
    if (r = sd_bus_match_signal(bus_, &w.match, kDest, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, this);
        r < 0)
        return Error{-r, "cannot watch " + unit};
    return refresh(unit, w);
}

Result<bool> SystemdUnits::refresh_freezer_state(const std::string& unit)
{
    const auto it = units_.find(unit);
    // An empty value is a systemd without a freezer (< 246): there is nothing to re-read.
    if (it == units_.end() || !it->second.info.exists() || it->second.info.freezer_state.empty()) return false;
    auto v = get_string(bus_, it->second.path, kUnit, "FreezerState");
    if (!v) return v.error();
    if (*v == it->second.info.freezer_state) return false;
    it->second.info.freezer_state = *v;
    return true;
}

Status SystemdUnits::refresh(const std::string& unit, Watched& w)
{
    UnitInfo info;
    struct Field {
        const char* iface;
        const char* name;
        std::string* out;
    };
    const std::string type_iface = unit_type_interface(unit);
    const Field fields[] = {
        {kUnit, "LoadState", &info.load_state},
        {kUnit, "ActiveState", &info.active_state},
        {kUnit, "SubState", &info.sub_state},
        {kUnit, "FreezerState", &info.freezer_state},
        {type_iface.c_str(), "ControlGroup", &info.control_group},
    };
    for (const Field& f : fields) {
        auto v = get_string(bus_, w.path, f.iface, f.name);
        if (!v) {
            // A not-found unit has no type interface, and systemd < 246 has no FreezerState.
            if (info.load_state == "not-found" || std::strcmp(f.name, "FreezerState") == 0) continue;
            return v.error();
        }
        *f.out = *v;
    }
    if (auto id = get_invocation_id(bus_, w.path)) info.invocation_id = *id;
    if (type_iface == "org.freedesktop.systemd1.Service") {
        BusError err;
        std::uint32_t pid = 0;
        if (sd_bus_get_property_trivial(bus_, kDest, w.path.c_str(), type_iface.c_str(), "MainPID", &err.e, 'u',
                                        &pid) >= 0)
            info.main_pid = pid;
    }
    w.info = std::move(info);
    return Ok{};
}

int SystemdUnits::on_properties_changed(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* self = static_cast<SystemdUnits*>(userdata);
    const char* path = sd_bus_message_get_path(m);
    for (auto& [name, w] : self->units_) {
        if (!path || w.path != path) continue;
        if (auto s = self->refresh(name, w); !s) spdlog::warn("systemd: {}", s.error().message);
        if (self->on_change_) self->on_change_(name);
    }
    return 0;
}

// After `systemctl daemon-reload` a unit may have been installed, removed or edited.
int SystemdUnits::on_disconnected(sd_bus_message*, void*, sd_bus_error*)
{
    spdlog::error(
        "lost the connection to the system bus (D-Bus stopped or restarted): exiting, releasing our freeze; "
        "Restart= brings the daemon back with a new connection");
    return 0;
}

int SystemdUnits::on_reloading(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    int starting = 0;
    if (sd_bus_message_read(m, "b", &starting) < 0 || starting) return 0;
    auto* self = static_cast<SystemdUnits*>(userdata);
    for (auto& [name, w] : self->units_) {
        if (auto s = self->refresh(name, w); !s) spdlog::warn("systemd: {}", s.error().message);
        if (self->on_change_) self->on_change_(name);
    }
    return 0;
}

}  // namespace xap
