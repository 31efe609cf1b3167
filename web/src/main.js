// The vtuber browser-source page: a VRM avatar driven live by the engine's WebSocket stream.
//
// Query parameters (all optional):
//   ws=ws://HOST:PORT     the engine's WebSocket (default: the server's /config.json, else ws://<page host>:8765)
//   avatar=URL            the VRM to load (default: avatar.vrm, served by `vtuber run`)
//   frame=head|bust|upper camera framing (default bust)
//   overlay=1             show fps, engine-to-screen latency, connection and tracking state
//   interp=0              show every engine frame as it arrives (no interpolation between frames)
//   root=rotation|full|off  how the stream's root transform is applied (default rotation)
//   fov=DEGREES           vertical field of view of the camera (default 30)
//
// For tests and tools the page exposes its state as `window.__vtuber` (see `state` below).

import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { VRMLoaderPlugin, VRMUtils, VRMHumanBoneList } from '@pixiv/three-vrm';

const params = new URLSearchParams(location.search);

function fovParam(raw) {
  // a vertical field of view the camera can draw with; anything else falls back to 30
  const v = Number(raw);
  return raw !== null && Number.isFinite(v) && v >= 1 && v <= 170 ? v : 30;
}
const cfg = {
  ws: params.get('ws'),
  avatar: params.get('avatar') || 'avatar.vrm',
  frame: ['head', 'bust', 'upper'].includes(params.get('frame')) ? params.get('frame') : 'bust',
  overlay: params.get('overlay') === '1',
  interp: params.get('interp') !== '0',
  root: ['rotation', 'full', 'off'].includes(params.get('root')) ? params.get('root') : 'rotation',
  fov: fovParam(params.get('fov')),
};

const LATENCY_SAMPLES = 2000;
const state = {
  version: 1,
  config: cfg,
  wsUrl: null,
  connected: false,
  connects: 0,
  hello: null,
  framesReceived: 0,
  framesApplied: 0,
  lastIndex: -1,
  lastT: null,
  tracking: {},
  avatarLoaded: false,
  avatarError: null,
  metaVersion: null,
  humanoidBones: [],
  expressions: [],
  ignoredNames: [],
  latency: [], // ms from a frame's `sent` to the first rendered frame that shows it
  fps: 0,
  renders: 0,
  gaze: { yaw: 0, pitch: 0 },
  avatarTag: null, // the loaded avatar file's ETag
  avatarReloads: 0, // models replaced after an engine restart with another --avatar
  // world-space facing of a humanoid bone (yaw/pitch in degrees, +yaw toward the viewer's right
  // for a model facing +Z): for tests and tools checking what is on screen
  boneFacing: (name) => {
    const node = vrm && vrm.humanoid.getRawBoneNode(name);
    if (!node) return null;
    node.updateWorldMatrix(true, false);
    const e = node.matrixWorld.elements; // column 2: the bone's local +Z in world space
    const d = Math.hypot(e[8], e[9], e[10]) || 1;
    return { yaw: THREE.MathUtils.radToDeg(Math.atan2(e[8], e[10])), pitch: THREE.MathUtils.radToDeg(Math.asin(-e[9] / d)) };
  },
  // world-space position [x, y, z] (metres) of a humanoid bone, for tests and tools
  boneWorld: (name) => {
    const node = vrm && vrm.humanoid.getRawBoneNode(name);
    if (!node) return null;
    vrm.humanoid.update();
    node.updateWorldMatrix(true, false);
    const p = node.getWorldPosition(new THREE.Vector3());
    return [p.x, p.y, p.z];
  },
  restBones: 0, // bones put at the engine's rest pose (hello.rest) because no frame carried them yet
};
window.__vtuber = state;

// --------------------------------------------------------------------------------------------
// Scene
// --------------------------------------------------------------------------------------------

const renderer = new THREE.WebGLRenderer({ alpha: true, antialias: true, premultipliedAlpha: true });
renderer.setClearColor(0x000000, 0); // transparent for OBS
renderer.setPixelRatio(window.devicePixelRatio || 1);
renderer.setSize(window.innerWidth, window.innerHeight);
renderer.outputColorSpace = THREE.SRGBColorSpace;
document.body.appendChild(renderer.domElement);

const scene = new THREE.Scene();
const camera = new THREE.PerspectiveCamera(cfg.fov, window.innerWidth / window.innerHeight, 0.05, 50);
const keyLight = new THREE.DirectionalLight(0xffffff, 2.2);
keyLight.position.set(0.6, 1.2, 2.0);
scene.add(keyLight);
const fill = new THREE.HemisphereLight(0xfff6f0, 0x8a7f99, 1.6);
scene.add(fill);

const avatarRoot = new THREE.Group(); // the stream's root transform goes here
scene.add(avatarRoot);

const messageEl = document.getElementById('message');
const overlayEl = document.getElementById('overlay');
if (cfg.overlay) overlayEl.hidden = false;

function showMessage(text) {
  messageEl.textContent = text;
  messageEl.hidden = false;
}

// --------------------------------------------------------------------------------------------
// Avatar
// --------------------------------------------------------------------------------------------

let vrm = null;
let isVRM0 = false;
const boneNodes = new Map(); // VRM humanoid bone name -> normalised node
const exprLookup = new Map(); // lower-case name -> the model's expression name
let framing = { y: 1.4, height: 0.7 };

// Unity HumanBodyBones (PascalCase) -> VRM 1.0 humanoid bone names (thumbs shift one segment).
function vrmBoneName(unity) {
  let name = unity;
  if (name.includes('Thumb')) {
    if (name.endsWith('Proximal')) name = name.replace(/Proximal$/, 'Metacarpal');
    else if (name.endsWith('Intermediate')) name = name.replace(/Intermediate$/, 'Proximal');
  }
  return name.charAt(0).toLowerCase() + name.slice(1);
}
const boneNameCache = new Map();
function mapBone(unity) {
  let n = boneNameCache.get(unity);
  if (n === undefined) {
    n = vrmBoneName(unity);
    boneNameCache.set(unity, n);
  }
  return n;
}

// Unity HumanBodyBones parents (vtuber/retarget/skeleton.py), for bones a model may lack: VRM
// makes chest, upperChest, neck, shoulders, toes, eyes, jaw and fingers optional. A missing
// bone's rotation is carried into its children, which is exact because three-vrm's normalised
// bones all rest at identity in one shared frame.
const PARENT = { Spine: 'Hips', Chest: 'Spine', UpperChest: 'Chest', Neck: 'UpperChest', Head: 'Neck', Jaw: 'Head' };
for (const side of ['Left', 'Right']) {
  Object.assign(PARENT, {
    [`${side}Eye`]: 'Head', [`${side}Shoulder`]: 'UpperChest', [`${side}UpperArm`]: `${side}Shoulder`,
    [`${side}LowerArm`]: `${side}UpperArm`, [`${side}Hand`]: `${side}LowerArm`, [`${side}UpperLeg`]: 'Hips',
    [`${side}LowerLeg`]: `${side}UpperLeg`, [`${side}Foot`]: `${side}LowerLeg`, [`${side}Toes`]: `${side}Foot`,
  });
  for (const finger of ['Thumb', 'Index', 'Middle', 'Ring', 'Little']) {
    PARENT[`${side}${finger}Proximal`] = `${side}Hand`;
    PARENT[`${side}${finger}Intermediate`] = `${side}${finger}Proximal`;
    PARENT[`${side}${finger}Distal`] = `${side}${finger}Intermediate`;
  }
}

// Blendshape names of the VRM 0.x presets and Perfect Sync's vowels -> VRM 1.0 expression names
// (the engine's default `vrm0` profile sends the former; three-vrm names a VRM 0.x model's
// expressions the VRM 1.0 way).
const VRM1_NAME = {
  a: 'aa', i: 'ih', u: 'ou', e: 'ee', o: 'oh', blink: 'blink', blink_l: 'blinkLeft', blink_r: 'blinkRight',
  joy: 'happy', angry: 'angry', sorrow: 'sad', fun: 'relaxed', surprised: 'surprised', neutral: 'neutral',
  lookup: 'lookUp', lookdown: 'lookDown', lookleft: 'lookLeft', lookright: 'lookRight',
};

function expressionName(raw) {
  const lower = raw.toLowerCase();
  const direct = exprLookup.get(lower);
  if (direct) return direct;
  const vrm1 = VRM1_NAME[lower];
  return vrm1 ? exprLookup.get(vrm1.toLowerCase()) : undefined;
}

// The avatar file's ETag (the page server's content hash), to notice an engine restarted with
// another --avatar: on each reconnect the page asks again and reloads the model if it changed.
async function avatarTag(url) {
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    return r.ok ? r.headers.get('ETag') : null;
  } catch (_) {
    return null;
  }
}

function unloadAvatar() {
  if (!vrm) return;
  avatarRoot.remove(vrm.scene);
  VRMUtils.deepDispose(vrm.scene); // geometry, materials and textures: no GPU memory left behind
  vrm = null;
  boneNodes.clear();
  exprLookup.clear();
  bonesAnim.clear();
  exprAnim.clear();
  current.expr.clear();
  state.avatarLoaded = false;
}

async function reloadAvatarIfChanged() {
  const tag = await avatarTag(cfg.avatar);
  if (!tag || !state.avatarTag || tag === state.avatarTag) return;
  console.info('vtuber: the engine serves another avatar; loading it');
  unloadAvatar();
  state.avatarReloads += 1;
  await loadAvatar(cfg.avatar);
}

async function loadAvatar(url) {
  const tag = avatarTag(url);
  const loader = new GLTFLoader();
  loader.register((parser) => new VRMLoaderPlugin(parser));
  let gltf;
  try {
    gltf = await loader.loadAsync(url);
  } catch (err) {
    return avatarFailed(url, `cannot be loaded as a VRM/glTF file (${err && err.message ? err.message : err})`);
  }
  const loaded = gltf.userData.vrm;
  if (!loaded || !loaded.humanoid) {
    return avatarFailed(url, 'is a glTF file without VRM data (no VRM / VRMC_vrm extension)');
  }
  vrm = loaded;
  isVRM0 = vrm.meta && vrm.meta.metaVersion === '0';
  state.metaVersion = vrm.meta ? vrm.meta.metaVersion : null;
  VRMUtils.removeUnnecessaryVertices(gltf.scene);
  if (VRMUtils.combineSkeletons) VRMUtils.combineSkeletons(gltf.scene);
  if (isVRM0) VRMUtils.rotateVRM0(vrm); // VRM 0.x faces -Z; turn it to face +Z like VRM 1.0
  vrm.scene.traverse((o) => { o.frustumCulled = false; });
  if (vrm.lookAt) vrm.lookAt.autoUpdate = false; // gaze comes from the stream
  avatarRoot.add(vrm.scene);

  boneNodes.clear();
  for (const name of VRMHumanBoneList) {
    const node = vrm.humanoid.getNormalizedBoneNode(name);
    if (node) boneNodes.set(name, node);
  }
  exprLookup.clear();
  const names = vrm.expressionManager ? Object.keys(vrm.expressionManager.expressionMap) : [];
  for (const n of names) exprLookup.set(n.toLowerCase(), n);
  state.humanoidBones = [...boneNodes.keys()];
  state.expressions = names;
  applyRest();
  vrm.update(0);
  computeFraming();
  state.avatarTag = await tag;
  state.avatarLoaded = true;
  console.info(`vtuber: avatar loaded (${url}, VRM ${state.metaVersion}, ${boneNodes.size} bones, ${names.length} expressions)`);
  return vrm;
}

// Bones no frame has carried yet stand in the engine's rest pose (`hello.rest`: arms hanging
// relaxed, fingers curled) instead of the model's T-pose, e.g. the arms in face mode, which
// never sends them. A frame that carries a bone takes it over from there.
function applyRest() {
  const rest = state.hello && state.hello.rest;
  if (!vrm || !rest) return;
  let count = 0;
  for (const [unity, r] of Object.entries(rest)) {
    if (unity === 'LeftEye' || unity === 'RightEye' || !Array.isArray(r) || r.length !== 4) continue;
    const name = mapBone(unity);
    const node = boneNodes.get(name);
    if (!node || bonesAnim.has(name)) continue;
    toQuat(r, node.quaternion);
    count += 1;
  }
  state.restBones = count;
}

function avatarFailed(url, reason) {
  const text = `vtuber: the avatar ${url} ${reason}. Pass a VRM 0.x or 1.0 file (for example a VRoid Studio export) with --avatar PATH.vrm.`;
  state.avatarError = text;
  showMessage(text);
  console.error(text);
  return null;
}

function computeFraming() {
  const pos = (name) => {
    const node = vrm.humanoid.getNormalizedBoneNode(name);
    return node ? node.getWorldPosition(new THREE.Vector3()) : null;
  };
  const head = pos('head');
  const neck = pos('neck') || head.clone().add(new THREE.Vector3(0, -0.09, 0));
  const hips = pos('hips');
  const chest = pos('upperChest') || pos('chest') || pos('spine');
  const top = head.y + 2.2 * Math.max(0.05, head.y - neck.y);
  let bottom;
  if (cfg.frame === 'head') bottom = neck.y - 0.03;
  else if (cfg.frame === 'bust') bottom = chest.y - 0.13;
  else bottom = hips.y - 0.06;
  const margin = (top - bottom) * 0.06;
  framing = { y: (top + bottom) / 2, height: top - bottom + 2 * margin, x: head.x };
  applyCamera();
}

function applyCamera() {
  const aspect = window.innerWidth / Math.max(1, window.innerHeight);
  camera.aspect = aspect;
  camera.fov = cfg.fov;
  const half = THREE.MathUtils.degToRad(cfg.fov / 2);
  // fit the framing height; on very narrow pages fit a minimum width instead
  const minWidth = framing.height * 0.8;
  const dist = Math.max(framing.height / 2 / Math.tan(half), minWidth / 2 / (Math.tan(half) * aspect));
  camera.position.set(framing.x || 0, framing.y, dist);
  camera.lookAt(framing.x || 0, framing.y, 0);
  camera.near = Math.max(0.01, dist * 0.05);
  camera.far = dist * 20;
  camera.updateProjectionMatrix();
}

window.addEventListener('resize', () => {
  renderer.setSize(window.innerWidth, window.innerHeight);
  applyCamera();
});

// --------------------------------------------------------------------------------------------
// Pose: the newest engine frame is the target; each animation frame slerps toward it
// --------------------------------------------------------------------------------------------

const bonesAnim = new Map(); // bone -> {from, to}
const exprAnim = new Map(); // expression -> {from, to}
const gazeAnim = { from: [0, 0], to: [0, 0] };
const rootAnim = { fromQ: new THREE.Quaternion(), toQ: new THREE.Quaternion(), fromP: new THREE.Vector3(), toP: new THREE.Vector3() };
let segment = { start: 0, duration: 0 }; // when the current target arrived, how long to reach it
let pendingSent = null; // `sent` of the newest frame not yet rendered
let pendingIndex = -1;
const current = { expr: new Map(), gaze: [0, 0] };

const _q = new THREE.Quaternion();
const _v = new THREE.Vector3();
const Z = new THREE.Vector3(0, 0, 1);

function toQuat(r, out) {
  // wire rotations are glTF/VRM 1.0 frame; VRM 0.x normalised bones live in a frame turned 180
  // degrees about Y, which negates x and z
  if (isVRM0) out.set(-r[0], r[1], -r[2], r[3]);
  else out.set(r[0], r[1], r[2], r[3]);
  return out.normalize();
}

function progress(now) {
  if (!cfg.interp || segment.duration <= 0) return 1;
  return Math.min(1, (now - segment.start) / segment.duration);
}

function onFrame(msg, now) {
  state.framesReceived += 1;
  // Interpolate over the engine's own frame interval (keyed by `t`), capped so a stalled stream
  // never drags the avatar slowly behind.
  const dt = state.lastT == null ? 0 : msg.t - state.lastT;
  state.lastT = msg.t;
  state.lastIndex = msg.index;
  state.tracking = msg.tracking || {};
  if (!vrm) return;
  segment = { start: now, duration: dt > 0 && dt < 0.25 ? dt * 1000 : 0 };
  // every running animation restarts from what is on screen: a bone or the root this frame does
  // not mention goes on toward its last target (it used to replay its last move from the start)
  for (const [name, a] of bonesAnim) a.from.copy(boneNodes.get(name).quaternion);
  rootAnim.fromQ.copy(avatarRoot.quaternion);
  rootAnim.fromP.copy(avatarRoot.position);

  const bones = msg.bones || {};
  const haveHead = Object.prototype.hasOwnProperty.call(bones, 'Head');
  const entries = Object.entries(bones);
  if (!haveHead && msg.head && msg.head.rotation) entries.push(['Head', { rotation: msg.head.rotation }]);
  let eyeDir = null;
  const sentRotation = new Map(entries.filter(([, v]) => v && v.rotation).map(([u, v]) => [u, v.rotation]));
  // the rotations of the ancestors this model lacks, up to its nearest present one, composed
  // (outermost first): they are carried into this bone (any order of the frame's bones)
  const inherited = (unity) => {
    let acc = null;
    for (let p = PARENT[unity]; p && !boneNodes.has(mapBone(p)); p = PARENT[p]) {
      const r = sentRotation.get(p);
      if (!r) continue;
      const q = toQuat(r, new THREE.Quaternion());
      acc = acc ? q.multiply(acc) : q;
    }
    return acc;
  };
  for (const [unity, value] of entries) {
    if (!value || !value.rotation) continue;
    if (unity === 'LeftEye' || unity === 'RightEye') {
      const d = new THREE.Vector3(0, 0, 1).applyQuaternion(_q.set(...value.rotation).normalize());
      eyeDir = eyeDir ? eyeDir.add(d) : d;
      continue; // the eyes are driven through lookAt (bone or expression type, per model)
    }
    const name = mapBone(unity);
    const node = boneNodes.get(name);
    const own = toQuat(value.rotation, new THREE.Quaternion());
    if (!node) continue; // this model lacks the bone: its children take its rotation (inherited)
    const above = inherited(unity);
    if (above) own.premultiply(above);
    let a = bonesAnim.get(name);
    if (!a) {
      a = { from: new THREE.Quaternion(), to: node.quaternion.clone() };
      bonesAnim.set(name, a);
    }
    a.from.copy(node.quaternion); // start from what is on screen now
    a.to.copy(own);
    if (a.from.dot(a.to) < 0) a.to.set(-a.to.x, -a.to.y, -a.to.z, -a.to.w);
  }

  // expressions: VRM 1.0 names, VRM 0.x preset names (the `vrm0` profile: Blink_L, A, Joy, ...)
  // mapped to them (expressionName), Perfect Sync in either case; lookUp/Down/Left/Right become
  // the gaze
  // a frame carries the whole face: expressions it does not mention go back to 0
  const shapes = msg.blendshapes || {};
  for (const [name, a] of exprAnim) {
    a.from = current.expr.get(name) || 0;
    a.to = 0;
  }
  let look = null;
  for (const [raw, value] of Object.entries(shapes)) {
    if (typeof value !== 'number') continue;
    const lookName = VRM1_NAME[raw.toLowerCase()];
    if (lookName === 'lookUp' || lookName === 'lookDown' || lookName === 'lookLeft' || lookName === 'lookRight') {
      look = look || { lookUp: 0, lookDown: 0, lookLeft: 0, lookRight: 0 };
      look[lookName] = value;
      continue;
    }
    const name = expressionName(raw);
    if (!name) {
      if (!state.ignoredNames.includes(raw) && state.ignoredNames.length < 200) state.ignoredNames.push(raw);
      continue;
    }
    let a = exprAnim.get(name);
    if (!a) {
      a = { from: 0, to: 0 };
      exprAnim.set(name, a);
    }
    a.from = current.expr.get(name) || 0;
    a.to = Math.max(0, Math.min(1, value));
  }

  let yaw = null;
  let pitch = null;
  if (eyeDir) {
    eyeDir.normalize();
    yaw = THREE.MathUtils.radToDeg(Math.atan2(eyeDir.x, eyeDir.z));
    pitch = THREE.MathUtils.radToDeg(Math.atan2(-eyeDir.y, Math.hypot(eyeDir.x, eyeDir.z)));
  } else if (look) {
    yaw = (look.lookLeft - look.lookRight) * 30;
    pitch = (look.lookDown - look.lookUp) * 20;
  }
  // no eye bones and no look expressions in this frame: the eyes go back to straight ahead
  gazeAnim.from = current.gaze.slice();
  gazeAnim.to = yaw !== null ? [yaw, pitch] : [0, 0];

  if (msg.root && cfg.root !== 'off') {
    rootAnim.fromQ.copy(avatarRoot.quaternion);
    rootAnim.fromP.copy(avatarRoot.position);
    // the root turns the whole avatar from outside the (VRM 0.x: turned) model scene: no frame change
    if (msg.root.rotation) rootAnim.toQ.set(...msg.root.rotation).normalize();
    if (cfg.root === 'full' && msg.root.position) {
      const p = msg.root.position;
      rootAnim.toP.set(p[0], p[1], p[2]);
    }
  }
  pendingSent = typeof msg.sent === 'number' ? msg.sent : null;
  pendingIndex = msg.index;
}

function applyPose(now) {
  if (!vrm) return;
  const s = progress(now);
  for (const [name, a] of bonesAnim) {
    boneNodes.get(name).quaternion.slerpQuaternions(a.from, a.to, s);
  }
  for (const [name, a] of exprAnim) {
    const v = a.from + (a.to - a.from) * s;
    current.expr.set(name, v);
    vrm.expressionManager.setValue(name, v);
  }
  current.gaze = [
    gazeAnim.from[0] + (gazeAnim.to[0] - gazeAnim.from[0]) * s,
    gazeAnim.from[1] + (gazeAnim.to[1] - gazeAnim.from[1]) * s,
  ];
  if (vrm.lookAt) {
    vrm.lookAt.yaw = current.gaze[0];
    vrm.lookAt.pitch = current.gaze[1];
  }
  state.gaze = { yaw: current.gaze[0], pitch: current.gaze[1] };
  if (cfg.root !== 'off') {
    avatarRoot.quaternion.slerpQuaternions(rootAnim.fromQ, rootAnim.toQ, s);
    if (cfg.root === 'full') avatarRoot.position.lerpVectors(rootAnim.fromP, rootAnim.toP, s);
  }
}

// --------------------------------------------------------------------------------------------
// WebSocket: connect, reconnect with backoff
// --------------------------------------------------------------------------------------------

let backoff = 250;

function withQuery(url) {
  // `ws=127.0.0.1:8765` (no scheme) is meant as ws://; the page only understands coords=gltf
  const u = new URL(/^wss?:\/\//i.test(url) ? url : `ws://${url.replace(/^\/+/, '')}`);
  u.searchParams.set('coords', 'gltf');
  if (!u.searchParams.has('names')) u.searchParams.set('names', 'profile');
  return u.toString();
}

async function resolveWsUrl() {
  if (cfg.ws) return withQuery(cfg.ws);
  try {
    const r = await fetch('config.json', { cache: 'no-store' });
    if (r.ok) {
      const c = await r.json();
      if (c.ws_url) return withQuery(c.ws_url);
    }
  } catch (_) {
    // served without the engine's config: fall back to the default port
  }
  return withQuery(`ws://${location.hostname || '127.0.0.1'}:8765/`);
}

function connect() {
  let ws;
  try {
    ws = new WebSocket(state.wsUrl);
  } catch (err) {
    console.error(`vtuber: bad WebSocket URL ${state.wsUrl}: ${err.message}`);
    return;
  }
  ws.onopen = () => {
    state.connected = true;
    state.connects += 1;
    state.lastT = null;
    console.info(`vtuber: connected to ${state.wsUrl}`);
    if (state.connects > 1 && state.avatarLoaded) reloadAvatarIfChanged();
  };
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    if (msg.type === 'frame' && msg.schema === 1) {
      backoff = 250; // a working stream: the next reconnect is quick again
      onFrame(msg, performance.now());
    } else if (msg.type === 'hello') {
      state.hello = msg;
      applyRest();
      if (msg.schema !== 1) console.warn(`vtuber: engine speaks schema ${msg.schema}, this page knows schema 1`);
      if (msg.coords && msg.coords !== 'gltf') console.warn(`vtuber: engine sends coords=${msg.coords}, the page needs gltf`);
    }
  };
  ws.onclose = () => {
    if (state.connected) console.info('vtuber: engine disconnected; reconnecting');
    state.connected = false;
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 3000);
  };
  ws.onerror = () => {
    // onclose follows and schedules the reconnect
  };
}

// --------------------------------------------------------------------------------------------
// Render loop
// --------------------------------------------------------------------------------------------

let lastTick = performance.now();
let fpsCount = 0;
let fpsStart = performance.now();
let overlayAt = 0;

function percentile(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function tick() {
  requestAnimationFrame(tick);
  const now = performance.now();
  const delta = Math.min(0.1, (now - lastTick) / 1000);
  lastTick = now;
  applyPose(now);
  if (vrm) vrm.update(delta);
  renderer.render(scene, camera);
  state.renders += 1;
  if (pendingSent !== null) {
    const shownAt = performance.timeOrigin + performance.now();
    state.latency.push(shownAt - pendingSent * 1000);
    if (state.latency.length > LATENCY_SAMPLES) state.latency.shift();
    state.framesApplied += 1;
    state.appliedIndex = pendingIndex;
    pendingSent = null;
  }
  fpsCount += 1;
  if (now - fpsStart >= 1000) {
    state.fps = (fpsCount * 1000) / (now - fpsStart);
    fpsCount = 0;
    fpsStart = now;
  }
  if (cfg.overlay && now - overlayAt > 250) {
    overlayAt = now;
    const recent = state.latency.slice(-120);
    const tracked = Object.entries(state.tracking).map(([k, v]) => `${k}:${v ? 'on' : 'off'}`).join(' ');
    overlayEl.textContent =
      `${state.connected ? 'connected' : 'waiting for engine'}  ${state.fps.toFixed(0)} fps\n` +
      `latency ${recent.length ? recent[recent.length - 1].toFixed(0) : '-'} ms ` +
      `(p50 ${percentile(recent, 50).toFixed(0)}, p95 ${percentile(recent, 95).toFixed(0)})\n` +
      `frame ${state.lastIndex}  ${tracked}`;
  }
}

async function main() {
  requestAnimationFrame(tick);
  const avatar = loadAvatar(cfg.avatar);
  try {
    state.wsUrl = await resolveWsUrl();
    connect();
  } catch (err) {
    const text = `vtuber: the WebSocket address ${cfg.ws} is not a URL (${err.message}); use ?ws=ws://HOST:PORT`;
    showMessage(text);
    console.error(text);
  }
  await avatar;
}

main();
