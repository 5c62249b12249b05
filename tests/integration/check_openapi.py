#!/usr/bin/env python3
"""Check api/openapi.yaml: parses, every $ref resolves, and the component
schemas match the codec tables in api/*.c field by field (and the answers
controller/svc_sched.c builds by hand, key by key)."""
import re, sys, yaml

top = sys.argv[1] if len(sys.argv) > 1 else '/work/main'

class StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML
    keeps the last one silently; every OpenAPI tool refuses the file)."""

def strict_mapping(loader, node, deep=False):
    seen = {}
    for knode, _ in node.value:
        key = loader.construct_object(knode, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                'while constructing a mapping', node.start_mark,
                'duplicate key %r (first at line %d)' % (key, seen[key]),
                knode.start_mark)
        seen[key] = knode.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)

StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, strict_mapping)

try:
    doc = yaml.load(open(top + '/api/openapi.yaml'), Loader=StrictLoader)
except yaml.YAMLError as e:
    print('ERROR api/openapi.yaml: %s' % e)
    sys.exit(1)
errs = []

def resolve(ref):
    if not ref.startswith('#/'):
        errs.append('external ref ' + ref); return None
    node = doc
    for part in ref[2:].split('/'):
        part = part.replace('~1', '/').replace('~0', '~')
        if not isinstance(node, dict) or part not in node:
            errs.append('unresolved ' + ref); return None
        node = node[part]
    return node

def walk(n, path):
    if isinstance(n, dict):
        if '$ref' in n:
            resolve(n['$ref'])
            if len(n) > 1:
                errs.append('%s: siblings next to $ref: %s' % (path, list(n)))
        for k, v in n.items():
            walk(v, path + '/' + str(k))
    elif isinstance(n, list):
        for i, v in enumerate(n):
            walk(v, '%s/%d' % (path, i))
walk(doc, '')

assert doc['openapi'] == '3.0.3'
# every path parameter is declared
for p, item in doc['paths'].items():
    names = set(re.findall(r'{(\w+)}', p))
    for m, op in item.items():
        if m not in ('get', 'post', 'put', 'delete', 'patch'):
            continue
        ps = [resolve(x['$ref']) if '$ref' in x else x
              for x in item.get('parameters', []) + op.get('parameters', [])]
        got = {x['name'] for x in ps if x and x['in'] == 'path'}
        if got != names:
            errs.append('%s %s: path params %s vs %s' % (m, p, got, names))
        for code, r in op['responses'].items():
            if code.startswith('2') or code == 'default':
                continue
            rr = resolve(r['$ref']) if '$ref' in r else r
            if rr and 'content' not in rr:
                errs.append('%s %s %s: no error body' % (m, p, code))

# ---- codec tables -> expectations
NAME_RE = '^[a-z0-9][a-z0-9-]{0,62}$'
CODECS = ('flavor', 'host', 'vm', 'operation', 'agentproto', 'agency',
          'identity', 'audit_event', 'image', 'network', 'volume',
          'cloudinit', 'server_group', 'event', 'console')
src = ''.join(open('%s/api/%s.c' % (top, f)).read() for f in CODECS)
arrays = {}
for m in re.finditer(r'const char \*const (\w+)\[\] = \{(.*?)\};', src, re.S):
    arrays[m.group(1)] = re.findall(r'"([^"]+)"', m.group(2))
tables = {}
for m in re.finditer(r'static const struct api_field (\w+)\[\] = \{(.*?)\n\};',
                     src, re.S):
    body = re.sub(r'\s+', ' ', m.group(2))
    fields = []
    for e in re.finditer(r'(AFSUB|AFS|AFI|AFE|AFB|AFT|AFA)\((.*?)\),', body):
        a = [x.strip() for x in e.group(2).split(',')]
        fields.append((e.group(1), a))
    tables[m.group(1)] = fields
hdr = ''.join(open('%s/api/%s.h' % (top, f)).read()
              for f in ('codec',) + CODECS)
# Integer macros of the headers and codecs (API_NAME_MAX, QMAX, ...).
defines = {'INT64_MAX': 2**63 - 1}
def evaluate(expr):
    expr = re.sub(r'\b(\d+)LL\b', r'\1', expr)
    expr = re.sub(r'\(\(size_t\)', '((', expr)
    expr = re.sub(r'[A-Z_][A-Z0-9_]*',
                  lambda m: str(defines[m.group(0)]), expr)
    if not re.fullmatch(r'[0-9+*() -]+', expr):
        raise ValueError('cannot evaluate ' + expr)
    return eval(expr)
for m in re.finditer(r'^#define ([A-Z_][A-Z0-9_]*)[ \t]+([^\n]*?)\s*(/\*.*)?$',
                     hdr + src, re.M):
    try:
        defines[m.group(1)] = evaluate(m.group(2))
    except (KeyError, ValueError, SyntaxError):
        pass
def strsize(stype, field):
    """Size of char field[...] in struct stype ("struct api_token")."""
    body = re.search(r'%s \{(.*?)\n\};' % re.escape(stype), hdr, re.S)
    m = re.search(r'char %s\[([^\]]+)\];' % field, body.group(1))
    return evaluate(m.group(1))
def num(x):
    return evaluate(x)
flags_of = lambda f: set(f.split('|')) - {'0'}
def fl(s):
    return {x.strip() for x in s.split('|')} - {'0'}

mapping = {'flavor_fields': 'Flavor', 'host_fields': 'Host',
           'enroll_fields': 'HostEnroll',
           'maintenance_fields': 'HostMaintenance',
           'image_fields': 'Image', 'vm_fields': 'Vm',
           'action_fields': 'VmAction', 'op_fields': 'Operation',
           'task_fields': 'Task', 'result_fields': 'TaskResult',
           'domain_fields': 'Domain', 'quota_fields': 'Quota',
           'agency_fields': 'Agency', 'usage_fields': 'UsageReport',
           'user_fields': 'User', 'token_fields': 'Token',
           'whoami_fields': 'Whoami', 'event_fields': 'AuditEvent',
           'verify_fields': 'AuditVerify', 'img_fields': 'ImageRecord',
           'network_fields': 'Network',
           'nic_fields': 'Nic', 'task_nic_fields': 'TaskNic',
           'volume_fields': 'Volume', 'attach_fields': 'VolumeAttach',
           'cloudinit_fields': 'CloudInit',
           'group_fields': 'ServerGroup',
           'patch_fields': 'HostPatch', 'rec_event_fields': 'Event',
           'tags_fields': 'VmTags', 'transition_fields': 'VmTransition',
           'console_fields': 'Console', 'line_fields': 'ConsoleLine'}
# AF_SUB schemas (&api_..._schema) -> component schema
subs = {'&api_image_schema': 'Image', '&api_quota_schema': 'Quota',
        '&api_nic_schema': 'Nic', '&api_task_nic_schema': 'TaskNic',
        '&api_cloudinit_schema': 'CloudInit'}
# Fields a handler sends as null although the codec would not (value 0
# on the wire is null): svc_audit_verify's first_bad.
null_override = {('AuditVerify', 'first_bad'): True}
S = doc['components']['schemas']
def deref(x):
    return resolve(x['$ref']) if '$ref' in x else x
for tname, sname in mapping.items():
    sch = S[sname]
    props = sch['properties']
    if sch.get('additionalProperties') is not False:
        errs.append(sname + ': additionalProperties must be false')
    want_req = []
    cnames = [a[0].strip('"') for _, a in tables[tname]]
    if list(props) != cnames:
        errs.append('%s: fields %s vs codec %s' % (sname, list(props), cnames))
    for kind, a in tables[tname]:
        name = a[0].strip('"')
        p = props.get(name)
        if p is None:
            continue
        pd = deref(p)
        if kind == 'AFS':
            ftype, flags = a[1], fl(a[2])
        elif kind in ('AFI', 'AFE', 'AFB', 'AFT', 'AFSUB', 'AFA'):
            ftype, flags = kind, fl(a[1])
        req, ro = 'AF_REQ' in flags, 'AF_RO' in flags
        if req:
            want_req.append(name)
        where = '%s.%s' % (sname, name)
        if bool(p.get('readOnly')) != ro and bool(pd.get('readOnly')) != ro:
            errs.append(where + ': readOnly mismatch')
        # nullable: input accepts null for optional fields; output emits
        # null for empty strings/times.
        strish = ftype in ('AF_STR', 'AF_NAME', 'AF_UUID', 'AF_PATH', 'AFT',
                           'AF_TEXT')
        want_null = (not req and not ro) or (ro and strish)
        want_null = null_override.get((sname, name), want_null)
        # A nullable reference: anyOf [X, NullValue] (NullValue is null).
        nullable = bool(p.get('nullable')) or {
            '$ref': '#/components/schemas/NullValue'} in p.get('anyOf', [])
        if '$ref' not in p and nullable != want_null:
            errs.append(where + ': nullable should be %s' % want_null)
        if ftype == 'AF_NAME':
            if pd.get('pattern') != NAME_RE or pd.get('maxLength') != 63:
                errs.append(where + ': name pattern/length')
        elif ftype == 'AF_UUID':
            if pd.get('format') != 'uuid' or pd.get('maxLength') != 36:
                errs.append(where + ': uuid')
        elif ftype == 'AF_PATH':
            if pd.get('maxLength') != strsize(a[3], a[4]) - 1:
                errs.append(where + ': path maxLength')
        elif ftype in ('AF_STR', 'AF_TEXT'):
            want = strsize(a[3], a[4]) - 1
            if pd.get('maxLength') != want:
                errs.append(where + ': maxLength %s want %d' %
                            (pd.get('maxLength'), want))
        elif kind == 'AFI':
            mn, mx = num(a[4]), num(a[5])
            if pd.get('type') != 'integer' or pd.get('minimum') != mn or \
               pd.get('maximum') != mx:
                errs.append('%s: int bounds %s..%s want %s..%s' % (
                    where, pd.get('minimum'), pd.get('maximum'), mn, mx))
        elif kind == 'AFE':
            if pd.get('enum') != arrays[a[4]]:
                errs.append('%s: enum %s want %s' % (where, pd.get('enum'),
                                                     arrays[a[4]]))
        elif kind == 'AFB':
            if pd.get('type') != 'boolean':
                errs.append(where + ': not boolean')
        elif kind == 'AFT':
            if pd.get('format') != 'date-time':
                errs.append(where + ': not date-time')
        elif kind == 'AFA':
            ref = pd.get('items', {}).get('$ref')
            if pd.get('type') != 'array' or \
               ref != '#/components/schemas/' + subs.get(a[4], '?'):
                errs.append(where + ': array of %s, items %s' % (a[4], ref))
        elif kind == 'AFSUB':
            ref = p.get('$ref') or \
                (p.get('allOf') or p.get('anyOf') or [{}])[0].get('$ref')
            if ref != '#/components/schemas/' + subs.get(a[4], '?'):
                errs.append(where + ': sub ref %s for %s' % (ref, a[4]))
    if sorted(sch.get('required', [])) != sorted(want_req):
        errs.append('%s: required %s want %s' % (sname, sch.get('required'),
                                                 want_req))
# Schemas written out as a closed schema's fields plus extras (an allOf
# with a closed base could never validate): every field of the base, in
# its order, each a $ref to the base's own, then the extras; the base's
# required fields stay required.
WRITTEN_OUT = {'ServerGroupDetail': ('ServerGroup', ['vms']),
               'ConsoleChunk': ('Console', ['lines']),
               'VmCreate': ('Vm', ['cloud_init'])}
for sname, (base, extra) in WRITTEN_OUT.items():
    sch, bs = S[sname], S[base]
    want = list(bs['properties']) + extra
    if list(sch.get('properties', {})) != want:
        errs.append('%s: fields %s want %s (the fields of %s, then %s)' % (
            sname, list(sch.get('properties', {})), want, base, extra))
    for f in bs['properties']:
        ref = sch.get('properties', {}).get(f, {}).get('$ref')
        if ref != '#/components/schemas/%s/properties/%s' % (base, f):
            errs.append('%s.%s: not a $ref to %s.%s' % (sname, f, base, f))
    if sch.get('additionalProperties') is not False or 'allOf' in sch:
        errs.append(sname + ': closed (additionalProperties false), no allOf')
    if not set(bs.get('required', [])) <= set(sch.get('required', [])):
        errs.append('%s: required %s lacks %s' % (
            sname, sch.get('required'), bs.get('required')))
# allOf with a closed member can only validate what that member allows.
def closed_allof(n, path):
    if isinstance(n, dict):
        for sub in n.get('allOf', []) if len(n.get('allOf', [])) > 1 else []:
            if deref(sub).get('additionalProperties') is False:
                errs.append('%s: allOf of a closed schema and more' % path)
        for k, v in n.items():
            closed_allof(v, path + '/' + str(k))
    elif isinstance(n, list):
        for i, v in enumerate(n):
            closed_allof(v, '%s/%d' % (path, i))
closed_allof(doc, '')
# Answers built by hand (not by a codec): the keys each function of
# controller/svc_sched.c adds, in order, are the schema's properties.
sched = open(top + '/controller/svc_sched.c').read()
HAND = {'verdicts_json': 'PlacementHost', 'svc_placement_dryrun': 'Placement',
        'svc_site_list': 'Site'}
for fn, sname in HAND.items():
    m = re.search(r'\n%s\(.*?\n}\n' % fn, sched, re.S)
    if not m:
        errs.append('controller/svc_sched.c: no function ' + fn); continue
    keys = re.findall(r'json_object_object_add\(o,\s*"(\w+)"', m.group(0))
    props = list(S[sname]['properties'])
    if keys != props:
        errs.append('%s: fields %s vs %s() %s' % (sname, props, fn, keys))
    if sorted(S[sname].get('required', [])) != sorted(keys):
        errs.append('%s: every field is always sent: required %s' %
                    (sname, keys))
# every route of controller/routes.c is in the spec, and nothing else
routes = re.findall(r'\{ "(GET|POST|DELETE|PUT|PATCH)", "([^"]+)"',
                    open(top + '/controller/routes.c').read())
spec = set()
for p, item in doc['paths'].items():
    for m in item:
        if m in ('get', 'post', 'put', 'delete', 'patch'):
            spec.add((m.upper(), re.sub(r'{\w+}', '{}', p)))
code = set(routes)
for r in sorted(code - spec):
    errs.append('route %s %s is not in api/openapi.yaml' % r)
for r in sorted(spec - code):
    errs.append('api/openapi.yaml has %s %s, which no route serves' % r)
print('%d tables, %d hand-built answers and %d routes checked' %
      (len(mapping), len(HAND), len(code)))
for e in errs:
    print('ERROR', e)
sys.exit(1 if errs else 0)
