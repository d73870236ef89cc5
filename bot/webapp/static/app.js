// The jiema Mini App: vanilla JS, no build step. Every call carries Telegram's raw initData;
// every text comes translated from the server (GET api/session); the order screen is live
// through server-sent events pushed from the bot's own database.
"use strict";
(() => {
  const tg = window.Telegram && window.Telegram.WebApp;
  const initData = (tg && tg.initData) || "";
  const mb = tg && tg.MainButton;
  const enc = encodeURIComponent;
  const main = document.getElementById("main");
  const title = document.getElementById("title");
  const backBtn = document.getElementById("back");
  const balBtn = document.getElementById("bal");
  const tabs = document.getElementById("tabs");
  let T = {};
  let session = null;
  let stack = [];
  let stream = null;
  let timer = null;
  let mainAction = null;
  let locale = "en";

  // -- helpers
  function el(tag, props, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid != null) node.append(kid);
    return node;
  }
  const ltr = (text, cls) => el("span", { class: "ltr " + (cls || ""), dir: "ltr", text });
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
  const around = (text, key, node) => { const [a, b] = text.split("{" + key + "}"); return [a, node, b || ""]; };
  const haptic = (kind) => {
    try {
      if (kind === "tap") tg.HapticFeedback.impactOccurred("light");
      else tg.HapticFeedback.notificationOccurred(kind);
    } catch (e) { /* not in Telegram */ }
  };

  function toast(text) {
    const box = document.getElementById("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toast.t);
    toast.t = setTimeout(() => { box.hidden = true; }, 2500);
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body.message || T.sorry || "Error");
      this.status = status;
      this.code = body.code;
      this.body = body;
    }
  }

  const auth = () => ({ headers: { Authorization: "tma " + initData } });
  async function api(path, body) {
    const init = auth();
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res, json;
    try {
      res = await fetch("api/" + path, init);
      json = await res.json();
    } catch (e) {
      throw new ApiError(0, { code: "NETWORK", message: T.sorry });
    }
    if (!json.ok) throw new ApiError(res.status, json);
    return json.data;
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const area = el("textarea", {}, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    haptic("success");
    toast(T.copied);
  }
  const copyBtn = (text, label) =>
    el("button", { class: "copy", type: "button", onclick: () => copy(text) }, label || T.copy);

  // -- navigation
  function leave() {
    if (stream) { stream.close(); stream = null; }
    clearInterval(timer);
    setMain(null);
  }

  function setMain(label, action) {
    if (!mb) return;
    if (mainAction) mb.offClick(mainAction);
    mainAction = action || null;
    if (!label) { mb.hide(); return; }
    mb.setText(label);
    mb.onClick(action);
    mb.enable();
    mb.show();
  }

  function show(screen, ...args) {
    leave();
    stack.push([screen, args]);
    render();
  }
  function replace(screen, ...args) {
    leave();
    stack[stack.length - 1] = [screen, args];
    render();
  }
  function back() {
    if (stack.length < 2) return;
    leave();
    stack.pop();
    render();
  }
  function tab(screen) {
    leave();
    stack = [[screen, []]];
    render();
  }

  function render() {
    const [screen, args] = stack[stack.length - 1];
    const deep = stack.length > 1;
    backBtn.hidden = !deep;
    if (tg && tg.BackButton) { if (deep) tg.BackButton.show(); else tg.BackButton.hide(); }
    for (const b of tabs.querySelectorAll("button")) {
      if (b.dataset.tab === screen.tabName && !deep) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    Promise.resolve(screen(...args)).catch(failed);
  }

  function page(name, heading, ...kids) {
    title.textContent = heading;
    main.dataset.screen = name;
    main.replaceChildren(...kids.flat().filter((k) => k != null));
  }

  const loading = (name, heading) => page(name, heading, el("p", { class: "muted center", text: "…" }));

  function failed(err) {
    if (err.status === 401) return authScreen(err.message);
    if (err.code === "NOT_LINKED") return unlinkedScreen();
    haptic("error");
    page("error", "", el("div", { class: "card center" },
      el("p", { id: "error", text: err.message }),
      el("button", { class: "btn", type: "button", onclick: render }, "↻")));
  }

  // -- screens
  function authScreen(message) {
    tabs.hidden = true;
    balBtn.hidden = true;
    backBtn.hidden = true;
    page("auth", "", el("div", { class: "card center" }, el("p", { id: "reopen", text: message })));
  }

  function unlinkedScreen() {
    tabs.hidden = true;
    page("unlinked", T.linkFirst, el("div", { class: "card" },
      el("p", { class: "status", text: T.linkFirst }),
      el("p", { class: "sms", text: T.linkSteps })));
  }

  const refreshBalance = () => api("session").then((s) => showBalance(s.balance), () => {});
  function showBalance(balance) {
    if (!balance) { balBtn.hidden = true; return; }
    balBtn.hidden = false;
    balBtn.replaceChildren(ltr(balance.text));
  }

  // A call whose answer (or refusal) carries the chat's words: a toast.
  const told = async (path, body, then) => {
    try { const r = await api(path, body); toast(r.note); if (then) then(r); } catch (err) { haptic("error"); toast(err.message); }
  };
  // ★ on the confirmation and the order screen (favKeys: kept by the services screen).
  const favKeys = new Set();
  const star = (code, id, path, body) => {
    const label = () => (favKeys.has(code + "/" + id) ? T.favOn : T.favAdd);
    const b = el("button", { class: "btn alt", id: "fav", type: "button", onclick: () => told(path, body, (r) => {
      favKeys[r.on ? "add" : "delete"](code + "/" + id);
      b.textContent = label();
    }) }, label());
    return b;
  };
  // 🔁 on the confirmation (base "quote/") and the order screen (base "orders/<id>/").
  const autoSwitch = (sw, base, body, then) => {
    const b = el("button", { class: "btn alt", id: "auto-replace", type: "button", onclick: () => {
      b.disabled = true;
      told(base + sw.path, body, (r) => { sw = r.auto_replace || sw; b.textContent = sw.label; if (then) then(r); })
        .then(() => { b.disabled = false; });
    } }, sw.label);
    return b;
  };
  // A row of a service, a country or a favourite: [flag] name, price and stock (, rate).
  const stock = (c) => (c.sold_out ? el("small", { class: "sold", text: T.soldOut })
    : el("small", {}, ltr(fill(T.inStock, { count: c.count.toLocaleString(locale) }))));
  const rate = (r) => r && el("small", { class: r.poor && "sold" }, el("br"), "📩 ", ltr(r.label));
  const offerRow = (c, name, attrs, go) => el("li", {},
    el("button", { class: "row", type: "button", ...attrs, "data-sold": c.sold_out, onclick: () => { haptic("tap"); go(); } },
      c.flag ? el("span", { class: "flag", text: c.flag }) : null,
      el("span", { class: "name", text: name }),
      el("span", { class: "side" }, c.price ? ltr(c.price) : null, el("br"), stock(c), rate(c.rate))));
  // Sold out: to the alternatives, else to the confirmation.
  const pick = (code, c) => () => show(c.sold_out ? altScreen : confirmScreen, code, c.id);

  let catalogue = null;
  async function servicesScreen() {
    const mine = Promise.all([api("favourites"), api("alerts")]);
    if (!catalogue) {
      loading("services", T.buyNumber);
      catalogue = (await api("services")).map((s) => ({
        ...s, hay: (s.name + " " + s.code).toLowerCase(),
      }));
    }
    const list = el("ul", { class: "list", id: "services" });
    const input = el("input", {
      class: "search", id: "service-search", type: "search", placeholder: "🔍",
      autocomplete: "off", oninput: () => draw(input.value),
    });
    // Rows are built once per service and reused: filtering 700 of them as the user types
    // only picks which existing nodes the list holds.
    const row = (s) => s.node || (s.node = offerRow({ price: s.price, count: s.stock }, s.name,
      { "data-code": s.code }, () => show(countriesScreen, s.code, s.name)));
    const [favs, alerts] = await mine;
    favKeys.clear();
    const favRows = favs.map((f) => {
      favKeys.add(f.service + "/" + f.id);
      return offerRow(f, "★ " + f.service_name + " · " + f.name, { "data-fav": f.service + "/" + f.id }, pick(f.service, f));
    });
    function draw(query) {
      const q = query.trim().toLowerCase();
      const hits = q ? catalogue.filter((s) => s.hay.includes(q)) : catalogue;
      list.replaceChildren(...(q ? [] : favRows), ...(hits.length ? hits.map(row) :
        [el("li", { class: "row muted", text: fill(T.noService, { query }) })]));
    }
    const waiting = alerts.length ? el("div", { class: "card", id: "alerts" }, el("p", { class: "muted", text: T.alerts }),
      alerts.map((a) => el("p", { class: "line", "data-alert": a.id },
        el("span", { text: a.label }),
        el("button", { class: "copy", type: "button", onclick: () => told("alerts/" + a.id + "/cancel", {}, render) }, "✕ " + T.cancel)))) : null;
    page("services", T.buyNumber, waiting, el("p", { class: "muted", text: T.services }), input, list);
    draw("");
  }
  servicesScreen.tabName = "services";

  async function countriesScreen(code, name) {
    loading("countries", name);
    const data = await api("services/" + enc(code) + "/countries");
    let sort = "price";
    let query = "";
    const list = el("ul", { class: "list", id: "countries" });
    const collator = new Intl.Collator(locale);
    const orders = {
      price: (a, b) => a.price_cents - b.price_cents || b.count - a.count,
      stock: (a, b) => b.count - a.count || a.price_cents - b.price_cents,
      name: (a, b) => collator.compare(a.name, b.name),
      chance: (a, b) => a.chance - b.chance,
    };
    function draw() {
      const q = query.trim().toLowerCase();
      const hits = data.countries.filter((c) => !q || (c.name + " " + c.slug).toLowerCase().includes(q));
      hits.sort((a, b) => (a.sold_out - b.sold_out) || orders[sort](a, b));
      list.replaceChildren(...(hits.length ? hits.map((c) => offerRow(c, c.name, { "data-country": c.id }, pick(code, c))) :
        [el("li", { class: "row muted", text: fill(T.noCountry, { service: data.service.name, query }) })]));
    }
    const seg = el("div", { class: "seg", id: "sort" }, el("small", { class: "muted", text: T.sortBy }),
      ["price", "stock", "name", "chance"].map((key) => el("button", {
        type: "button", "data-sort": key, "aria-pressed": String(key === sort),
        onclick: (ev) => {
          sort = key;
          for (const b of seg.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === ev.currentTarget));
          draw();
        },
      }, T["by" + key[0].toUpperCase() + key.slice(1)])));
    const input = el("input", {
      class: "search", id: "country-search", type: "search", placeholder: "🔍",
      autocomplete: "off", oninput: () => { query = input.value; draw(); },
    });
    page("countries", data.service.name,
      el("p", { class: "muted", text: fill(T.countries, { service: data.service.name }) }),
      input, seg, list);
    draw();
  }

  // Sold out: the chat's alternatives and its "Notify me" alert.
  async function altScreen(code, id) {
    loading("alts", T.soldOut);
    const a = await api("services/" + enc(code) + "/countries/" + id + "/alternatives");
    page("alts", a.service.name, el("p", { class: "sms", id: "alt-text", text: a.text }),
      el("ul", { class: "list", id: "alts" }, a.offers.map((c) => offerRow(c, c.name, { "data-country": c.id }, pick(code, c)))),
      a.watching ? null : el("button", { class: "btn", id: "notify", type: "button",
        onclick: () => told("alerts", { service: code, country: id }, () => replace(altScreen, code, id)) }, T.notifyMe));
  }

  // given: the new quote after a price rise (notice).
  async function confirmScreen(code, countryId, given, notice) {
    loading("confirm", T.confirm);
    const q = given || await api("quote", { service: code, country: countryId });
    showBalance({ text: q.balance });
    let busy = false;
    const buyBtn = el("button", { class: "btn", id: "buy", type: "button", disabled: !q.affordable,
      onclick: () => buy() }, T.buy);
    async function buy() {
      if (busy || !q.token) return;
      busy = true;
      buyBtn.disabled = true;
      buyBtn.textContent = T.buying;
      if (mb) mb.showProgress();
      try {
        const order = await api("buy", { token: q.token });
        haptic("success");
        refreshBalance();
        stack.splice(-2);
        show(orderScreen, order.id, order);
      } catch (err) {
        if (err.code === "ALREADY_USED" && err.body.order) {
          stack.splice(-2);
          show(orderScreen, err.body.order);
          return;
        }
        if (err.code === "PRICE_CHANGED") return replace(confirmScreen, code, countryId, err.body.quote, err.message);
        haptic("error");
        buyBtn.textContent = T.buy;
        setMain(null);
        note.textContent = err.message;
        note.className = "sold";
      } finally {
        if (mb) mb.hideProgress();
      }
    }
    const note = el("p", { id: "confirm-note", text: q.affordable ? T.tapBuy : T.notEnough,
      class: q.affordable ? "muted" : "sold" });
    page("confirm", T.confirm, notice && el("p", { class: "sold", id: "rose", text: notice }),
      el("div", { class: "card" },
      el("p", {}, fill(T.service, { service: q.service.name })),
      el("p", {}, fill(T.country, { country: q.country.flag + " " + q.country.name })),
      el("p", { class: "status" }, around(T.price, "price", ltr(q.price, "big"))),
      el("p", {}, around(T.balanceIs, "balance", ltr(q.balance))),
      q.rate && el("p", { id: "rate", class: q.rate.poor && "sold", text: q.rate.text }),
      note, buyBtn), q.auto_replace && autoSwitch(q.auto_replace, "quote/", { token: q.token }),
    star(code, countryId, "favourites", { service: code, country: countryId }));
    if (q.affordable) setMain(T.buy, buy);
  }

  async function orderScreen(id, known) {
    const order = known || await api("orders/" + enc(id));
    const headsUp = order.heads_up || null; // after a purchase: kept while the order is open
    drawOrder(order, headsUp);
    if (order.final) return;
    stream = follow(id, (fresh) => {
      const had = main.querySelectorAll(".code").length;
      drawOrder(fresh, headsUp);
      if (fresh.codes.length > had) haptic("success");
    });
  }

  // Live events via fetch(): initData in the header, never in a URL. Reconnects after a
  // drop; stops at "end" (final), "closed" (replaced) and any refusal but 429/503.
  function follow(id, onOrder) {
    const ctl = new AbortController();
    let over = false;
    (async () => {
      while (!over) {
        try {
          const headers = { ...auth().headers, Accept: "text/event-stream" };
          const res = await fetch("api/orders/" + enc(id) + "/events", { headers, signal: ctl.signal });
          if (res.status < 429 && !res.ok) return;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = "", got, cut;
          while (!(got = await reader.read()).done) {
            for (buf += got.value; (cut = buf.indexOf("\n\n")) >= 0; buf = buf.slice(cut + 2)) {
              const [, ev, data] = /^event: (.*)\ndata: (.*)$/m.exec(buf.slice(0, cut)) || [];
              if (ev === "order") onOrder(JSON.parse(data));
              else if (ev) over = true;
            }
          }
        } catch (e) { /* dropped, or closed by us */ }
        if (!over) await new Promise((go) => setTimeout(go, 3000));
      }
    })();
    return { close() { over = true; ctl.abort(); } };
  }

  function drawOrder(o, headsUp) {
    clearInterval(timer);
    const left = el("span", { class: "ltr", id: "countdown", dir: "ltr" });
    const tick = () => {
      const ms = o.expires_at ? Date.parse(o.expires_at) - Date.now() : 0;
      const s = Math.max(0, Math.floor(ms / 1000));
      left.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    };
    const act = (label, cls, path, id) => el("button", { class: "btn " + cls, type: "button", id,
      onclick: (ev) => {
        const button = ev.currentTarget;
        button.disabled = true;
        told("orders/" + enc(o.id) + "/" + path, {}, (fresh) => { drawOrder(fresh, headsUp); refreshBalance(); })
          .then(() => { button.disabled = false; });
      } }, label);
    const codes = o.codes.map((c) => el("div", { class: "card sms-card" },
      c.code ? el("div", { class: "line" },
        ltr(c.code, "code"), copyBtn(c.code)) : null,
      el("p", { class: "sms", text: c.body })));
    page("order", o.service_name, el("div", { class: "card", id: "order", "data-status": o.status },
      el("div", { class: "line" }, ltr(o.phone, "big phone"), copyBtn(o.phone, T.copyNumber)),
      el("p", {}, o.country.flag + " " + o.country.name + " · ", ltr(o.price)),
      el("p", { class: "status", id: "status", text: o.status_text }),
      o.final ? null : el("p", { class: "muted" }, around(T.left, "duration", left)),
      o.refunded ? el("p", { id: "refunded" }, around(T.refunded, "amount", ltr(o.refunded))) : null),
    headsUp ? el("p", { class: "sold", id: "heads-up", text: headsUp }) : null,
    el("div", { id: "codes" }, codes),
    o.can_next_sms ? act(T.nextSms, "", "next-sms", "next-sms") : null,
    o.can_cancel ? act(T.cancelOrder, "danger", "cancel", "cancel") : null,
    o.auto_replace && autoSwitch(o.auto_replace, "orders/" + enc(o.id) + "/", {}, (fresh) => drawOrder(fresh, headsUp)),
    star(o.service, o.country_id, "orders/" + enc(o.id) + "/favourite", {}));
    if (!o.final) { tick(); timer = setInterval(tick, 1000); }
  }

  async function ordersScreen() {
    loading("orders", T.myOrders);
    const list = el("ul", { class: "list", id: "orders" });
    const more = el("button", { class: "btn alt", type: "button", id: "more", hidden: true }, "›");
    let cursor = null;
    async function load() {
      more.disabled = true;
      const data = await api("orders" + (cursor ? "?cursor=" + enc(cursor) : ""));
      for (const o of data.items) {
        list.append(el("li", {}, el("button", { class: "row", type: "button", "data-order": o.id,
          onclick: () => show(orderScreen, o.id) },
          el("span", { class: "name" }, o.service_name, el("br"), el("small", {}, ltr(o.phone || ""))),
          el("span", { class: "side" }, el("small", { text: o.status_text }), el("br"),
            el("small", {}, ltr(o.when || ""))))));
      }
      cursor = data.next_cursor;
      more.hidden = !cursor;
      more.disabled = false;
      if (!list.children.length) list.append(el("li", { class: "row muted", text: T.noOrders }));
    }
    more.addEventListener("click", () => load().catch(failed));
    await load();
    page("orders", T.myOrders, list, more);
  }
  ordersScreen.tabName = "orders";

  async function balanceScreen() {
    const s = await api("session");
    showBalance(s.balance);
    page("balance", T.balance, el("div", { class: "card center" },
      el("p", { class: "muted", text: T.balance }),
      s.balance ? ltr(s.balance.text, "big") : null,
      el("button", { class: "btn", type: "button", onclick: () => tab(servicesScreen) }, T.buyNumber)));
  }
  balanceScreen.tabName = "balance";

  // -- start
  async function start() {
    if (tg) {
      tg.ready();
      tg.expand();
      tg.BackButton.onClick(back);
    }
    backBtn.addEventListener("click", back);
    balBtn.addEventListener("click", () => tab(balanceScreen));
    const screens = { services: servicesScreen, orders: ordersScreen, balance: balanceScreen };
    for (const b of tabs.querySelectorAll("button")) b.addEventListener("click", () => tab(screens[b.dataset.tab]));
    try {
      session = await api("session");
    } catch (err) {
      return authScreen(err.message);
    }
    T = session.texts;
    locale = session.language.replace("_", "-");
    document.documentElement.lang = locale;
    document.documentElement.dir = session.direction;
    if (!session.linked) return unlinkedScreen();
    for (const b of tabs.querySelectorAll("button")) b.textContent = T[b.dataset.text];
    tabs.hidden = false;
    showBalance(session.balance);
    tab(servicesScreen);
  }
  start();
})();
