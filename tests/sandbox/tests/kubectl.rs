//! The real kubectl (1.33) against the sandbox: output must look like a real cluster's.

// Each test is one kubectl story with its expected output; splitting hides the story.
#![allow(clippy::too_many_lines)]

use crate::common;

use common::{Kubectl, header};
use oc_mcp_sandbox::{AuditQuery, Sandbox, SandboxConfig};

const CLUSTER_ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: mcp-reader
  labels:
    app.kubernetes.io/part-of: oc-mcp
rules:
- apiGroups: [\"\"]
  resources: [\"pods\", \"pods/log\", \"namespaces\"]
  verbs: [\"get\", \"list\", \"watch\"]
- apiGroups: [\"rbac.authorization.k8s.io\"]
  resources: [\"clusterroles\"]
  verbs: [\"list\"]
";

fn sandbox() -> Sandbox {
    Sandbox::start_blocking(SandboxConfig::default()).expect("sandbox starts")
}

#[test]
fn kubectl_get_tables_have_real_columns() {
    let sb = sandbox();
    let k = Kubectl::new(&sb, "admin");
    let ns = k.ok(&["get", "ns"]);
    assert_eq!(header(&ns), ["NAME", "STATUS", "AGE"]);
    assert!(
        ns.lines()
            .any(|l| l.starts_with("default") && l.contains("Active")),
        "{ns}"
    );
    let short = k.ok(&["get", "ns", "default", "--no-headers"]);
    assert!(short.starts_with("default"), "{short}");
    let cr = k.ok(&["get", "clusterroles"]);
    assert_eq!(header(&cr), ["NAME", "CREATED", "AT"]);
    assert!(
        cr.contains("cluster-admin") && cr.contains("system:discovery"),
        "{cr}"
    );
    let crb = k.ok(&["get", "clusterrolebindings", "-o", "wide"]);
    assert_eq!(
        header(&crb),
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    );
    assert!(
        crb.lines().any(|l| l.starts_with("cluster-admin ")
            && l.contains("ClusterRole/cluster-admin")
            && l.contains("system:masters")),
        "{crb}"
    );
    let sa = k.ok(&["get", "sa", "-n", "default"]);
    assert_eq!(header(&sa), ["NAME", "SECRETS", "AGE"]);
    let svc = k.ok(&["get", "svc", "-n", "default"]);
    assert_eq!(
        header(&svc),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert!(
        svc.contains("kubernetes") && svc.contains("443/TCP"),
        "{svc}"
    );
    let cm = k.ok(&["get", "configmaps", "-n", "default"]);
    assert_eq!(header(&cm), ["NAME", "DATA", "AGE"]);
    let none = k.run(&["get", "pods", "-n", "default"]);
    assert_eq!(none.code, 0);
    assert!(
        none.stderr
            .contains("No resources found in default namespace."),
        "{}",
        none.stderr
    );
    let missing = k.run(&["get", "configmap", "nope", "-n", "default"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("Error from server (NotFound): configmaps \"nope\" not found"),
        "{}",
        missing.stderr
    );
}

#[test]
fn kubectl_get_yaml_and_server_side_apply() {
    let sb = sandbox();
    let k = Kubectl::new(&sb, "admin");
    let first = k.run_stdin(&["apply", "--server-side", "-f", "-"], Some(CLUSTER_ROLE));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        first.stdout.trim(),
        "clusterrole.rbac.authorization.k8s.io/mcp-reader serverside-applied"
    );
    let again = k.run_stdin(&["apply", "--server-side", "-f", "-"], Some(CLUSTER_ROLE));
    assert_eq!(again.code, 0, "{}", again.stderr);
    let yaml = k.ok(&[
        "get",
        "clusterrole",
        "mcp-reader",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(
        yaml.starts_with("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("manager: kubectl") && yaml.contains("operation: Apply"),
        "managedFields: {yaml}"
    );
    assert!(yaml.contains("- pods/log"), "{yaml}");
    let rv_line = |y: &str| {
        y.lines()
            .find(|l| l.contains("resourceVersion"))
            .map(String::from)
    };
    let yaml2 = k.ok(&[
        "get",
        "clusterrole",
        "mcp-reader",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert_eq!(
        rv_line(&yaml),
        rv_line(&yaml2),
        "an identical re-apply changes nothing"
    );
    // Another manager taking a field is a conflict unless forced.
    let changed = CLUSTER_ROLE.replace("[\"list\"]", "[\"list\", \"get\"]");
    let conflict = k.run_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "-f",
            "-",
        ],
        Some(&changed),
    );
    assert_eq!(conflict.code, 1);
    assert!(
        conflict.stderr.contains("conflict with \"kubectl\""),
        "{}",
        conflict.stderr
    );
    let forced = k.run_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&changed),
    );
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let audit = sb.audit();
    let patches: Vec<_> = audit
        .iter()
        .filter(|e| e.verb == "patch" && e.resource == "clusterroles")
        .collect();
    assert!(
        patches
            .iter()
            .all(|e| e.content_type == "application/apply-patch+yaml"),
        "{patches:?}"
    );
}

#[test]
fn kubectl_create_binding_can_i_whoami_and_delete() {
    let sb = sandbox();
    let admin = Kubectl::new(&sb, "admin");
    let member = Kubectl::new(&sb, "member");
    let outsider = Kubectl::new(&sb, "outsider");

    assert_eq!(
        member
            .run(&["auth", "can-i", "list", "pods", "-A"])
            .stdout
            .trim(),
        "no"
    );
    assert_eq!(admin.run(&["auth", "can-i", "*", "*"]).stdout.trim(), "yes");
    admin.run_stdin(&["apply", "--server-side", "-f", "-"], Some(CLUSTER_ROLE));
    let out = admin.ok(&[
        "create",
        "clusterrolebinding",
        "mcp-users",
        "--clusterrole=mcp-reader",
        "--group=mcp-users",
    ]);
    assert_eq!(
        out.trim(),
        "clusterrolebinding.rbac.authorization.k8s.io/mcp-users created"
    );
    let yes = member.run(&["auth", "can-i", "list", "pods", "-A"]);
    assert_eq!((yes.code, yes.stdout.trim()), (0, "yes"));
    assert_eq!(
        member
            .run(&[
                "auth",
                "can-i",
                "get",
                "pods",
                "--subresource=log",
                "-n",
                "default"
            ])
            .stdout
            .trim(),
        "yes"
    );
    assert_eq!(
        member
            .run(&["auth", "can-i", "delete", "pods", "-n", "default"])
            .stdout
            .trim(),
        "no"
    );
    let no = outsider.run(&["auth", "can-i", "list", "pods", "-A"]);
    assert_eq!((no.code, no.stdout.trim()), (1, "no"));

    let who = member.ok(&["auth", "whoami"]);
    assert!(who.contains("Username    member"), "{who}");
    assert!(
        who.contains("Groups      [mcp-users system:authenticated]"),
        "{who}"
    );
    let forbidden = outsider.run(&["get", "clusterroles"]);
    assert_eq!(forbidden.code, 1);
    assert!(
        forbidden.stderr.contains(
            "Error from server (Forbidden): clusterroles.rbac.authorization.k8s.io is forbidden: User \"outsider\" cannot list resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
        ),
        "{}",
        forbidden.stderr
    );
    let exists = admin.run(&[
        "create",
        "clusterrolebinding",
        "mcp-users",
        "--clusterrole=view",
        "--group=mcp-users",
    ]);
    assert!(
        exists.stderr.contains("error: failed to create clusterrolebinding: clusterrolebindings.rbac.authorization.k8s.io \"mcp-users\" already exists"),
        "{}",
        exists.stderr
    );

    let deleted = admin.ok(&["delete", "clusterrolebinding", "mcp-users"]);
    assert_eq!(
        deleted.trim(),
        "clusterrolebinding.rbac.authorization.k8s.io \"mcp-users\" deleted"
    );
    assert_eq!(
        member
            .run(&["auth", "can-i", "list", "pods", "-A"])
            .stdout
            .trim(),
        "no"
    );

    let q = AuditQuery {
        user: Some("admin".into()),
        verb: Some("delete".into()),
        resource: Some("clusterrolebindings".into()),
        ..Default::default()
    };
    let hits: Vec<_> = sb.audit().into_iter().filter(|e| q.matches(e)).collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].name, "mcp-users");
    assert_eq!(hits[0].code, 200);
    // member never wrote anything.
    assert!(
        sb.audit()
            .iter()
            .filter(|e| e.user == "member")
            .all(|e| matches!(e.verb.as_str(), "get" | "list" | "watch")
                || e.resource.ends_with("reviews"))
    );
}

#[test]
fn kubectl_namespaces_impersonation_and_dry_run() {
    let sb = sandbox();
    let admin = Kubectl::new(&sb, "admin");
    assert_eq!(
        admin.ok(&["create", "namespace", "team-a"]).trim(),
        "namespace/team-a created"
    );
    assert_eq!(
        admin
            .ok(&[
                "-n",
                "team-a",
                "create",
                "configmap",
                "c1",
                "--from-literal=a=b",
                "--dry-run=server"
            ])
            .trim(),
        "configmap/c1 created (server dry run)"
    );
    assert!(
        admin
            .run(&["-n", "team-a", "get", "configmap", "c1"])
            .stderr
            .contains("NotFound")
    );
    admin.ok(&["-n", "team-a", "create", "serviceaccount", "bot"]);
    admin.ok(&[
        "-n",
        "team-a",
        "create",
        "rolebinding",
        "bot-edit",
        "--clusterrole=edit",
        "--serviceaccount=team-a:bot",
    ]);
    assert_eq!(
        admin
            .run(&[
                "--as=system:serviceaccount:team-a:bot",
                "-n",
                "team-a",
                "auth",
                "can-i",
                "create",
                "configmaps"
            ])
            .stdout
            .trim(),
        "yes"
    );
    assert_eq!(
        admin
            .run(&[
                "--as=system:serviceaccount:team-a:bot",
                "-n",
                "default",
                "auth",
                "can-i",
                "create",
                "configmaps"
            ])
            .stdout
            .trim(),
        "no"
    );
    let member = Kubectl::new(&sb, "member");
    let denied = member.run(&["--as=admin", "get", "ns"]);
    assert_eq!(denied.code, 1);
    assert!(
        denied.stderr.contains("Error from server (Forbidden)"),
        "{}",
        denied.stderr
    );
    let imp: Vec<_> = sb
        .audit()
        .into_iter()
        .filter(|e| e.user == "member" && e.code == 403)
        .collect();
    assert!(
        !imp.is_empty() && imp.iter().all(|e| e.impersonated_by.is_none()),
        "{imp:?}"
    );
    assert_eq!(
        admin.ok(&["delete", "namespace", "team-a"]).trim(),
        "namespace \"team-a\" deleted"
    );
    let sa = admin.run(&["-n", "team-a", "get", "sa", "bot"]);
    assert!(
        sa.stderr.contains("NotFound"),
        "namespace contents go with it: {}",
        sa.stderr
    );
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1
        ports: [{containerPort: 8080}]
";

#[test]
fn kubectl_client_side_apply_and_generators() {
    let sb = sandbox();
    let k = Kubectl::new(&sb, "admin");
    let apply = |doc: &str| k.run_stdin(&["apply", "-f", "-"], Some(doc));
    let first = apply(DEPLOYMENT);
    assert_eq!(
        (first.code, first.stdout.trim()),
        (0, "deployment.apps/web created"),
        "{}",
        first.stderr
    );
    let same = apply(DEPLOYMENT);
    assert_eq!(same.stdout.trim(), "deployment.apps/web unchanged");
    let changed = apply(&DEPLOYMENT.replace("replicas: 2", "replicas: 3"));
    assert_eq!(changed.stdout.trim(), "deployment.apps/web configured");
    assert!(
        changed.stderr.is_empty(),
        "no warnings, as on a real cluster: {}",
        changed.stderr
    );
    assert_eq!(
        k.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );
    let deploy = k.ok(&["get", "deploy", "-o", "wide"]);
    assert_eq!(
        header(&deploy),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(
        deploy.contains("registry.example.com/web:1") && deploy.contains("app=web"),
        "{deploy}"
    );
    assert_eq!(
        k.ok(&["label", "deploy", "web", "tier=front"]).trim(),
        "deployment.apps/web labeled"
    );
    assert_eq!(
        k.ok(&["scale", "deploy", "web", "--replicas=1"]).trim(),
        "deployment.apps/web scaled"
    );

    // Generators use typed clients (protobuf bodies from kubectl 1.33 on).
    assert_eq!(
        k.ok(&[
            "create",
            "deployment",
            "api",
            "--image=registry.example.com/api:2",
            "--port=8080"
        ])
        .trim(),
        "deployment.apps/api created"
    );
    assert_eq!(
        k.ok(&[
            "expose",
            "deployment",
            "api",
            "--port=80",
            "--target-port=8080"
        ])
        .trim(),
        "service/api exposed"
    );
    let svc = k.ok(&[
        "get",
        "svc",
        "api",
        "-o",
        "jsonpath={.spec.ports[0].port}/{.spec.ports[0].targetPort} {.spec.selector.app}",
    ]);
    assert_eq!(svc, "80/8080 api");
    assert_eq!(
        k.ok(&[
            "run",
            "once",
            "--image=busybox",
            "--restart=Never",
            "--",
            "true"
        ])
        .trim(),
        "pod/once created"
    );
    // The kubelet reports a run-to-completion pod of another image as completed.
    let start = std::time::Instant::now();
    let pods = loop {
        let pods = k.ok(&["get", "pods"]);
        let row = pods.lines().find(|l| l.starts_with("once ")).unwrap_or("");
        if row.contains("0/1") && row.contains("Completed") {
            break pods;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{pods}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let creates: Vec<_> = sb
        .audit()
        .into_iter()
        .filter(|e| e.resource == "deployments" && e.verb == "create")
        .collect();
    assert!(
        creates
            .iter()
            .any(|e| e.request_uri.contains("fieldManager=kubectl-create") && e.code == 201),
        "{creates:?}"
    );
}
