// The playground's web chat: a client of the local Bot API server, as Telegram's apps are.
// The state arrives over SSE (/api/events); actions go to the small JSON API beside it.
"use strict";

const $ = (id) => document.getElementById(id);

const ui = {
  state: null,
  userId: Number(localStorage.getItem("playground.user")) || 1001,
  theme: localStorage.getItem("playground.theme") || "light",
  known: new Map(), // user id -> Set of message ids already seen
  typing: new Map(), // user id -> chat actions already seen
  typingUntil: 0,
  unread: new Map(), // user id -> new bot messages not seen yet
  pending: new Set(), // "messageId:row:column" of callback buttons waiting for their answer
  rendered: new Map(), // message id -> [signature, element] of the selected chat
  renderedUser: null,
  toastTimer: 0,
};

// ---- talking to the playground server ------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function connect() {
  const events = new EventSource("/api/events");
  events.onmessage = (event) => apply(JSON.parse(event.data));
  // EventSource reconnects by itself; meanwhile the header says the playground is away.
  events.onerror = () => {
    const status = $("bot-status");
    status.textContent = "not connected to the playground";
    status.className = "status down";
  };
}

// ---- state -----------------------------------------------------------------------------------

function currentUser() {
  return ui.state.users.find((u) => u.id === ui.userId) || ui.state.users[0];
}

function apply(state) {
  const first = ui.state === null;
  ui.state = state;
  if (!state.users.some((u) => u.id === ui.userId)) ui.userId = state.users[0].id;
  for (const user of state.users) countNew(user, first);
  render();
}

// A new bot message (not an edit) counts as unread unless the person is looking at it.
function countNew(user, first) {
  const known = ui.known.get(user.id) || new Set();
  let fresh = 0;
  for (const message of user.messages) {
    if (!known.has(message.id) && !message.out && !first) fresh += 1;
    known.add(message.id);
  }
  ui.known.set(user.id, known);
  const actions = ui.typing.get(user.id);
  if (actions !== undefined && user.typing > actions && user.id === ui.userId) {
    ui.typingUntil = Date.now() + 5000;
    setTimeout(renderHeader, 5100);
  }
  ui.typing.set(user.id, user.typing);
  if (fresh && user.id === ui.userId) ui.typingUntil = 0;
  if (fresh && !(user.id === ui.userId && looking())) {
    ui.unread.set(user.id, (ui.unread.get(user.id) || 0) + fresh);
  }
}

function looking() {
  return !document.hidden && document.hasFocus() && atBottom();
}

function atBottom() {
  const list = $("messages");
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function markRead() {
  if (ui.state && looking()) {
    ui.unread.delete(ui.userId);
    renderBadges();
  }
}

// ---- rendering -------------------------------------------------------------------------------

function render() {
  document.body.dataset.theme = ui.theme;
  $("theme").value = ui.theme;
  renderUsers();
  renderHeader();
  renderMessages();
  renderComposer();
  renderSandbox();
  renderBadges();
}

function renderUsers() {
  const box = $("users");
  box.replaceChildren(
    ...ui.state.users.map((user) => {
      const tab = el("button", { className: "user-tab", type: "button", role: "tab" });
      tab.setAttribute("aria-selected", String(user.id === ui.userId));
      tab.dataset.user = user.id;
      tab.append(user.first_name, el("small", { textContent: `id ${user.id}` }));
      const count = ui.unread.get(user.id);
      if (count && user.id !== ui.userId) tab.append(el("span", { className: "count", textContent: count }));
      tab.onclick = () => selectUser(user.id);
      return tab;
    }),
  );
  const user = currentUser();
  const select = $("language");
  const options = JSON.stringify(ui.state.languages);
  if (select.dataset.options !== options) { // rebuilt, an open select would close
    select.replaceChildren(
      ...ui.state.languages.map((l) => el("option", { value: l.code, textContent: `${l.name} (${l.code})` })),
    );
    select.dataset.options = options;
  }
  select.value = user.language_code || "en";
}

function renderHeader() {
  const bot = ui.state.bot;
  $("bot-name").textContent = bot.name;
  const status = $("bot-status");
  status.className = "status";
  if (bot.state === "exited") {
    status.textContent = `bot stopped (exit code ${bot.exit_code}); see ${bot.log}`;
    status.classList.add("down");
  } else if (bot.state === "starting") {
    status.textContent = "starting…";
  } else if (Date.now() < ui.typingUntil) {
    status.textContent = "typing…";
    status.classList.add("typing");
  } else {
    status.textContent = `@${bot.username} · bot`;
  }
  $("viewer").textContent = `you are ${currentUser().first_name}`;
}

function renderMessages() {
  const user = currentUser();
  const list = $("messages");
  const stick = atBottom() || ui.renderedUser !== user.id;
  if (ui.renderedUser !== user.id) {
    ui.rendered.clear();
    ui.renderedUser = user.id;
  }
  const notices = user.notices.slice().sort((a, b) => a.after - b.after);
  const nodes = [];
  let n = 0;
  for (const message of user.messages) {
    while (n < notices.length && notices[n].after < message.id) nodes.push(noticeNode(notices[n++]));
    nodes.push(messageNode(message));
  }
  while (n < notices.length) nodes.push(noticeNode(notices[n++]));
  const live = new Set(user.messages.map((m) => m.id));
  for (const id of ui.rendered.keys()) if (!live.has(id)) ui.rendered.delete(id);
  list.replaceChildren(...nodes);
  if (stick) list.scrollTop = list.scrollHeight;
}

function noticeNode(notice) {
  const node = el("div", { className: "notice", role: "alert" });
  node.append(
    el("strong", { textContent: `Telegram error in ${notice.method}` }),
    `${notice.status}: ${notice.description}`,
  );
  return node;
}

// A message's element is kept while the message is unchanged (spoilers stay revealed).
function messageNode(message) {
  const signature = JSON.stringify([message, [...ui.pending].filter((p) => p.startsWith(`${message.id}:`))]);
  const cached = ui.rendered.get(message.id);
  if (cached && cached[0] === signature) return cached[1];
  const node = el("div", { className: message.out ? "message out" : "message in" });
  node.dataset.id = message.id;
  const bubble = el("div", { className: "bubble" });
  if (message.text) bubble.append(renderEntities(message.text, message.entities));
  else if (message.content) bubble.append(el("em", { textContent: message.content }));
  const time = new Date(message.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  bubble.append(el("span", { className: "meta", textContent: message.edited ? `edited ${time}` : time }));
  node.append(bubble);
  if (message.buttons.length) node.append(keyboardNode(message));
  ui.rendered.set(message.id, [signature, node]);
  return node;
}

function keyboardNode(message) {
  const keyboard = el("div", { className: "keyboard" });
  message.buttons.forEach((row, r) => {
    const line = el("div", { className: "row" });
    row.forEach((button, c) => {
      const node = el("button", { type: "button", textContent: button.text, title: button.text });
      node.dataset.kind = button.kind;
      if (CORNER_ICONS[button.kind]) node.append(icon(CORNER_ICONS[button.kind]));
      const key = `${message.id}:${r}:${c}`;
      if (ui.pending.has(key)) node.classList.add("pending");
      node.onclick = () => pressButton(message, button, r, c, key);
      line.append(node);
    });
    keyboard.append(line);
  });
  return keyboard;
}

// Entities carry UTF-16 offsets, which is what JavaScript strings index by.
function renderEntities(text, entities) {
  const sorted = entities.slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  const build = (start, end, list) => {
    const out = document.createDocumentFragment();
    let pos = start;
    let i = 0;
    while (i < list.length) {
      const entity = list[i];
      const stop = Math.min(entity.offset + entity.length, end);
      let j = i + 1;
      while (j < list.length && list[j].offset < stop) j += 1;
      if (entity.offset > pos) out.append(text.slice(pos, entity.offset));
      const from = Math.max(entity.offset, pos);
      out.append(wrapEntity(entity, build(from, stop, list.slice(i + 1, j)), text.slice(from, stop)));
      pos = Math.max(pos, stop);
      i = j;
    }
    if (pos < end) out.append(text.slice(pos, end));
    return out;
  };
  return build(0, text.length, sorted);
}

function wrapEntity(entity, content, raw) {
  const tag = (name, props) => {
    const node = el(name, props || {});
    node.append(content);
    return node;
  };
  switch (entity.type) {
    case "bold": return tag("strong");
    case "italic": return tag("em");
    case "underline": return tag("u");
    case "strikethrough": return tag("s");
    case "spoiler": {
      const node = tag("span", { className: "spoiler", title: "Spoiler" });
      node.onclick = () => node.classList.add("revealed");
      return node;
    }
    case "code": {
      const node = tag("code", { title: "Copy" });
      node.onclick = () => copy(raw);
      return node;
    }
    case "pre": {
      const pre = el("pre");
      const code = tag("code");
      if (entity.language) code.className = `language-${entity.language}`;
      pre.append(code);
      return pre;
    }
    case "blockquote": return tag("blockquote");
    case "expandable_blockquote": {
      const node = tag("blockquote", { className: "expandable" });
      node.onclick = () => node.classList.toggle("open");
      return node;
    }
    case "text_link": return tag("a", { href: entity.url, title: entity.url, target: "_blank", rel: "noopener noreferrer" });
    case "url": {
      const href = /^[a-z][a-z0-9+.-]*:/i.test(raw) ? raw : `http://${raw}`;
      return tag("a", { href, target: "_blank", rel: "noopener noreferrer" });
    }
    case "email": return tag("a", { href: `mailto:${raw}` });
    case "bot_command": {
      const node = tag("span", { className: "link" });
      node.onclick = () => send(raw);
      return node;
    }
    case "mention":
    case "hashtag":
    case "cashtag":
    case "phone_number":
    case "text_mention":
      return tag("span", { className: "link" });
    default:
      return content;
  }
}

function renderComposer() {
  const user = currentUser();
  const menu = user.menu_button || { type: "commands" };
  const button = $("menu-button");
  button.hidden = menu.type !== "web_app";
  if (menu.type === "web_app") {
    button.textContent = menu.text;
    button.onclick = () => openWebApp(menu.web_app.url, menu.text);
  }
  $("slash").hidden = user.commands.length === 0;
  const box = $("commands");
  box.replaceChildren(
    ...user.commands.map((c) => {
      const item = el("button", { type: "button", role: "menuitem" });
      item.append(
        el("span", { className: "command", textContent: `/${c.command}` }),
        el("span", { className: "description", textContent: c.description }),
      );
      item.onclick = () => {
        box.hidden = true;
        send(`/${c.command}`);
      };
      return item;
    }),
  );
}

function renderSandbox() {
  const sandbox = currentUser().sandbox;
  const body = $("sandbox-body");
  if (!sandbox.key) {
    body.replaceChildren(
      el("p", { className: "hint", textContent: `${currentUser().first_name} has not typed a jiema key yet.` }),
    );
    return;
  }
  if (!sandbox.known) {
    body.replaceChildren(el("p", { className: "hint", textContent: "Key typed; the bot has not used it yet." }));
    return;
  }
  const nodes = [el("div", { className: "balance", textContent: `Balance ${sandbox.balance}` })];
  if (!sandbox.orders.length) nodes.push(el("p", { className: "hint", textContent: "No orders yet." }));
  for (const order of sandbox.orders) {
    const card = el("div", { className: "order" });
    card.dataset.order = order.id;
    const active = order.status === "WAITING" || order.status === "RECEIVED";
    const actions = el("div", { className: "actions" });
    const sms = el("button", { type: "button", textContent: "SMS now", disabled: !active });
    sms.onclick = () => orderAction(order.id, "sms");
    const expire = el("button", { type: "button", textContent: "Expire now", disabled: !active });
    expire.onclick = () => orderAction(order.id, "expire");
    actions.append(sms, expire);
    card.append(
      el("div", { className: "phone", textContent: order.phone }),
      el("div", { textContent: `${order.service} · ${order.sms} SMS · ` }),
      actions,
    );
    card.children[1].append(el("span", { className: "state", textContent: order.status }));
    nodes.push(card);
  }
  body.replaceChildren(...nodes);
}

function renderBadges() {
  const count = ui.unread.get(ui.userId) || 0;
  $("new-badge").hidden = atBottom() && count === 0;
  $("new-count").textContent = count;
  $("new-count").hidden = count === 0;
  const total = [...ui.unread.values()].reduce((a, b) => a + b, 0);
  document.title = `${total ? `(${total}) ` : ""}Playground · jiema bot`;
}

// ---- actions ---------------------------------------------------------------------------------

async function send(text) {
  const clean = text.trim();
  if (!clean) return;
  try {
    await post(`/api/users/${ui.userId}/send`, { text: clean });
  } catch (error) {
    toast(error.message);
  }
}

async function pressButton(message, button, row, column, key) {
  if (button.kind === "url") {
    window.open(button.value, "_blank", "noopener");
  } else if (button.kind === "copy_text") {
    copy(button.value);
  } else if (button.kind === "web_app") {
    openWebApp(button.value, button.text);
  } else if (button.kind === "callback_data") {
    if (ui.pending.has(key)) return;
    ui.pending.add(key);
    renderMessages();
    try {
      const answer = await post(`/api/users/${ui.userId}/press`, { message_id: message.id, row, column, text: button.text });
      if (answer.answered && answer.text) {
        if (answer.show_alert) showAlert(answer.text);
        else toast(answer.text);
      }
      if (answer.answered && answer.url) window.open(answer.url, "_blank", "noopener");
    } catch (error) {
      toast(error.message);
    } finally {
      ui.pending.delete(key);
      renderMessages();
    }
  } else {
    toast(`${button.kind} buttons are not available in the playground`);
  }
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied to clipboard");
  } catch (error) {
    toast(`Could not copy: ${error.message}`);
  }
}

async function orderAction(orderId, action) {
  try {
    await post(`/api/orders/${encodeURIComponent(orderId)}/${action}`);
  } catch (error) {
    toast(error.message);
  }
}

function selectUser(id) {
  ui.userId = id;
  localStorage.setItem("playground.user", String(id));
  ui.unread.delete(id);
  $("commands").hidden = true;
  render();
}

// ---- Mini App --------------------------------------------------------------------------------

async function openWebApp(url, title) {
  try {
    const launch = await post(`/api/users/${ui.userId}/webapp`, { url, theme: ui.theme });
    $("webapp-title").textContent = title;
    $("webapp-main").hidden = true;
    $("webapp-back").hidden = true;
    $("webapp-frame").src = launch.url;
    $("webapp").hidden = false;
  } catch (error) {
    toast(error.message);
  }
}

function closeWebApp() {
  $("webapp").hidden = true;
  $("webapp-frame").src = "about:blank";
  $("webapp-main").hidden = true;
  $("webapp-back").hidden = true;
}

function postToWebApp(eventType, eventData) {
  $("webapp-frame").contentWindow.postMessage(JSON.stringify({ eventType, eventData }), "*");
}

// The Mini App's main button is drawn by the client, below the app (web_app_setup_main_button).
function setupMainButton(params) {
  const button = $("webapp-main");
  button.hidden = !params.is_visible;
  if (!params.is_visible) return;
  const theme = ui.state.themes[ui.theme];
  button.textContent = params.text;
  button.disabled = !params.is_active;
  button.classList.toggle("pending", Boolean(params.is_progress_visible));
  button.style.background = params.color || theme.button_color;
  button.style.color = params.text_color || theme.button_text_color;
}

// Events a Mini App posts to its Telegram client (telegram-web-app.js, postEvent).
function onWebAppEvent(event) {
  const frame = $("webapp-frame");
  if (event.source !== frame.contentWindow || typeof event.data !== "string") return;
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return;
  }
  const data = message.eventData || {};
  switch (message.eventType) {
    case "web_app_close": closeWebApp(); break;
    case "web_app_open_link": window.open(data.url, "_blank", "noopener"); break;
    case "web_app_setup_main_button": setupMainButton(data); break;
    case "web_app_setup_back_button": $("webapp-back").hidden = !data.is_visible; break;
    case "web_app_request_theme": postToWebApp("theme_changed", { theme_params: ui.state.themes[ui.theme] }); break;
    case "web_app_request_viewport":
      postToWebApp("viewport_changed", { height: frame.clientHeight, is_state_stable: true, is_expanded: true });
      break;
    default: break;
  }
}

// ---- small helpers ---------------------------------------------------------------------------

// The small marks Telegram puts in the corner of URL, copy and Mini App buttons (SVG paths,
// so that no font is needed).
const CORNER_ICONS = {
  url: "M5 11 11 5M6 5h5v5",
  copy_text: "M6 6h6v6H6zM4 10V4h6",
  web_app: "M4 4h8v8H4zM4 7h8",
};

function icon(path) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "corner");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
  line.setAttribute("d", path);
  svg.append(line);
  return svg;
}

function el(name, props) {
  return Object.assign(document.createElement(name), props || {});
}

function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(ui.toastTimer);
  ui.toastTimer = setTimeout(() => { node.hidden = true; }, 2500);
}

function showAlert(text) {
  $("alert-text").textContent = text;
  $("alert").showModal();
}

// ---- wiring ----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const input = $("input");
  $("composer").onsubmit = (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("slash").onclick = (event) => {
    event.stopPropagation();
    $("commands").hidden = !$("commands").hidden;
  };
  // The command menu closes on a click elsewhere or Escape, like a Telegram app's.
  document.addEventListener("click", (event) => {
    if (!$("commands").contains(event.target)) $("commands").hidden = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("commands").hidden = true;
  });
  $("language").onchange = async (event) => {
    try {
      await post(`/api/users/${ui.userId}/language`, { language_code: event.target.value });
    } catch (error) {
      toast(error.message);
    }
  };
  $("theme").onchange = (event) => {
    ui.theme = event.target.value;
    localStorage.setItem("playground.theme", ui.theme);
    render();
    if (!$("webapp").hidden) postToWebApp("theme_changed", { theme_params: ui.state.themes[ui.theme] });
  };
  $("messages").addEventListener("scroll", markRead);
  window.addEventListener("focus", markRead);
  document.addEventListener("visibilitychange", markRead);
  $("new-badge").onclick = () => {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
    markRead();
  };
  $("webapp-close").onclick = closeWebApp;
  $("webapp-back").onclick = () => postToWebApp("back_button_pressed");
  $("webapp-main").onclick = () => postToWebApp("main_button_pressed");
  window.addEventListener("message", onWebAppEvent);
  connect();
});
