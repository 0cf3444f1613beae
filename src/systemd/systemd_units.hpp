// SystemdUnits: the units the config names, as systemd reports them over D-Bus. One sd-bus
// connection to the system bus, attached to the daemon's sd-event loop; the state of each unit is
// re-read when systemd signals a change to it (PropertiesChanged, or a daemon reload), never polled.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "systemd/unit_info.hpp"
#include "util/result.hpp"

namespace xap {

class SystemdUnits {
public:
    using OnChange = std::function<void(const std::string& unit)>;

    // Connects to the system bus and subscribes to systemd's signals. An Error means there is no
    // systemd to ask (no system bus, or not booted with systemd).
    static Result<std::unique_ptr<SystemdUnits>> connect(sd_event* loop, OnChange on_change);
    ~SystemdUnits();
    SystemdUnits(const SystemdUnits&) = delete;
    SystemdUnits& operator=(const SystemdUnits&) = delete;

    // Starts following a unit (loading it if needed) and reads its state now.
    Status watch(const std::string& unit);
    // Re-reads only FreezerState. systemd 252 sends no PropertiesChanged when a unit is frozen or
    // thawed (systemd#31115), so the value the signals keep can be stale; the caller asks again
    // whenever the answer matters. Returns true when the value changed.
    Result<bool> refresh_freezer_state(const std::string& unit);
    // The last state read; a default UnitInfo for units not watched.
    [[nodiscard]] const UnitInfo& info(const std::string& unit) const;

private:
    struct Watched {
        std::string path;  // the unit's D-Bus object path
        UnitInfo info;
        sd_bus_slot* match = nullptr;
    };

    explicit SystemdUnits(sd_bus* bus, OnChange on_change) : bus_(bus), on_change_(std::move(on_change)) {}
    Status refresh(const std::string& unit, Watched& w);
    static int on_properties_changed(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int on_reloading(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int on_disconnected(sd_bus_message* m, void* userdata, sd_bus_error* error);

    sd_bus* bus_;
    sd_bus_slot* reload_match_ = nullptr;
    sd_bus_slot* disconnect_match_ = nullptr;
    OnChange on_change_;
    std::map<std::string, Watched> units_;
};

}  // namespace xap
