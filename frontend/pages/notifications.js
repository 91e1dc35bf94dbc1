/*
 * The header's notification bell (templates/components/notification_bell.html), on every page.
 *
 * notificationBell(configId): an Alpine component. It reads the unread count from the notifications API,
 * listens on ws/monitor/ (shared with the page's own listeners, see live.js) for `notification` events,
 * counts each new one and raises a toast, and lists the latest notifications in a dropdown where each
 * can be marked read (or all at once). After a reconnect it re-reads the count: events may have been missed.
 */
(function () {
  "use strict";

  const MINUTE = 60;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (Number.isNaN(seconds)) return "";
    if (seconds < MINUTE) return "just now";
    if (seconds < HOUR) return `${Math.floor(seconds / MINUTE)} min ago`;
    if (seconds < DAY) return `${Math.floor(seconds / HOUR)} h ago`;
    return new Date(iso).toLocaleDateString();
  }

  // A websocket event in the shape the API lists notifications.
  function fromEvent(message) {
    return {
      id: message.notification_id,
      kind: message.kind,
      title: message.title,
      body: message.body || "",
      data: message.data || {},
      created_at: message.created_at,
      read: message.status === "read",
    };
  }

  window.notificationBell = function notificationBell(configId) {
    const config = JSON.parse(document.getElementById(configId).textContent);
    return {
      open: false,
      unread: 0,
      items: [],
      loaded: false,
      loading: false,
      busy: false,
      error: "",
      connectedBefore: false,

      init() {
        this.readCount();
        window.liveSocket(config.socket_path, {
          status: this.$el, // its data-state says whether the count is live
          onMessage: (message) => this.received(message),
          onOpen: () => {
            if (this.connectedBefore) this.resync();
            this.connectedBefore = true;
          },
        });
      },

      badge() {
        return this.unread > 99 ? "99+" : String(this.unread);
      },

      kindLabel(item) {
        return (config.kinds[item.kind] || { label: item.kind }).label;
      },

      ago,

      link(item) {
        if (item.data.execution_id) return `${config.executions_url}${item.data.execution_id}/`;
        if (item.data.order_id) return config.orders_url;
        return "";
      },

      async readCount() {
        const answer = await window.tw.fetchJson(`${config.list_url}?unread=true&limit=1`);
        if (answer.ok) this.unread = answer.body.count;
      },

      async readList() {
        this.loading = true;
        const answer = await window.tw.fetchJson(`${config.list_url}?limit=${config.limit}`);
        this.loading = false;
        if (!answer.ok) {
          this.error = window.tw.errorLines(answer.body).join(" ");
          return;
        }
        this.error = "";
        this.items = answer.body.results;
        this.loaded = true;
      },

      resync() {
        this.readCount();
        if (this.loaded) this.readList();
      },

      toggle() {
        this.open = !this.open;
        if (this.open) this.readList();
      },

      received(message) {
        if (message.type !== "notification" || message.status !== "unread") return;
        const item = fromEvent(message);
        if (this.items.some((known) => known.id === item.id)) return;
        this.unread += 1;
        if (this.loaded) this.items = [item, ...this.items].slice(0, config.limit);
        const kind = (config.kinds[item.kind] || { toast: "info" }).toast;
        window.toast(item.body ? `${item.title}. ${item.body}` : item.title, kind);
      },

      async markRead(item) {
        this.busy = true;
        const answer = await window.tw.fetchJson(`${config.list_url}${item.id}/read/`, { method: "POST" });
        this.busy = false;
        if (!answer.ok) {
          window.toast(window.tw.errorLines(answer.body).join(" "), "error");
          return false;
        }
        if (!item.read) this.unread = Math.max(0, this.unread - 1);
        item.read = true;
        return true;
      },

      async markAllRead() {
        this.busy = true;
        const answer = await window.tw.fetchJson(config.read_all_url, { method: "POST" });
        this.busy = false;
        if (!answer.ok) {
          window.toast(window.tw.errorLines(answer.body).join(" "), "error");
          return;
        }
        this.items.forEach((item) => {
          item.read = true;
        });
        this.unread = 0;
      },

      // Opening a notification's page marks it read first (a request cut off by the navigation would be lost).
      async follow(item) {
        if (!item.read) await this.markRead(item);
        window.location.assign(this.link(item));
      },
    };
  };
})();
