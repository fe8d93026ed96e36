"""The offline Terraform checks: the real tree passes, and each planted mistake fails naming file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridctl.cli import app
from gridctl.infra import Finding, load, run_checks, write_readmes
from gridctl.infra.secrets import secret_name

REPO = Path(__file__).resolve().parents[2]
TREE = REPO / "infra" / "terraform"
WORKFLOW = REPO / ".github" / "workflows" / "infra-test.yml"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of infra/terraform to plant mistakes in."""
    copy = tmp_path / "terraform"
    shutil.copytree(TREE, copy)
    return copy


def plant(path: Path, old: str, new: str) -> int:
    """Replace exactly one occurrence of old by new; return the line where new starts."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path}"
    index = text.index(old)
    path.write_text(text.replace(old, new))
    return text[:index].count("\n") + 1


def line_of(path: Path, needle: str) -> int:
    text = path.read_text()
    assert text.count(needle) == 1, f"{needle!r} must occur once in {path}"
    return text[: text.index(needle)].count("\n") + 1


def only(findings: list[Finding], check: str, path: Path) -> list[Finding]:
    return [f for f in findings if f.check == check and f.path == path]


def test_the_real_tree_passes_every_check() -> None:
    findings = run_checks(TREE, workflow=WORKFLOW)
    assert findings == [], "\n".join(f.render(REPO) for f in findings)


def test_the_real_tree_has_nine_modules_and_three_environments() -> None:
    loaded = load(TREE)
    assert sorted(loaded.modules) == sorted(
        ["network", "aks", "acr", "postgresql", "keyvault", "agc", "monitoring", "identity", "storage"]
    )
    assert sorted(loaded.environments) == ["dev", "prod", "staging"]


def test_unknown_module_argument(tree: Path) -> None:
    main = tree / "environments" / "dev" / "main.tf"
    line = (
        plant(
            main,
            '  source              = "../../modules/network"\n',
            '  source              = "../../modules/network"\n  subnet_count = 3\n',
        )
        + 1
    )
    [finding] = only(run_checks(tree), "modules", main)
    assert finding.line == line
    assert "'subnet_count'" in finding.message and "modules/network does not declare" in finding.message


def test_missing_required_variable(tree: Path) -> None:
    main = tree / "environments" / "dev" / "main.tf"
    plant(main, "  subnet_cidrs        = var.subnet_cidrs\n", "")
    [finding] = only(run_checks(tree), "modules", main)
    assert finding.line == line_of(main, 'module "network" {')
    assert "required variable 'subnet_cidrs'" in finding.message
    assert "modules/network/variables.tf:" in finding.message


@pytest.mark.parametrize(
    ("relative", "old", "new", "check", "message"),
    [
        pytest.param(
            "environments/staging/outputs.tf",
            "value       = module.aks.oidc_issuer_url",
            "value       = module.aks.issuer_url",
            "references",
            "module.aks.issuer_url: modules/aks has no output 'issuer_url'",
            id="dangling-module-output",
        ),
        pytest.param(
            "environments/prod/main.tf",
            "  key_vault_id        = module.keyvault.key_vault_id\n  certificate_issuer",
            "  key_vault_id        = module.vault.key_vault_id\n  certificate_issuer",
            "references",
            "module.vault.key_vault_id: no module 'vault' is called here",
            id="module-not-called",
        ),
        pytest.param(
            "modules/monitoring/main.tf",
            '  sku                 = "PerGB2018"',
            '  sku                 = = "PerGB2018"',
            "parse",
            "does not parse:",
            id="parse-error",
        ),
        pytest.param(
            "environments/prod/main.tf",
            "  sku_tier                        = var.aks_sku_tier\n",
            '  sku_tier                        = "Premium"\n',
            "environments",
            "differs from dev/main.tf",
            id="environment-drift",
        ),
        pytest.param(
            "environments/prod/backend.tf",
            'key                  = "gridos-prod.tfstate"',
            'key                  = "gridos-staging.tfstate"',
            "environments",
            "state key 'gridos-staging.tfstate' is also used by staging",
            id="shared-state-key",
        ),
    ],
)
def test_planted_mistake_is_reported_at_its_line(
    tree: Path, relative: str, old: str, new: str, check: str, message: str
) -> None:
    path = tree / relative
    line = plant(path, old, new)
    findings = only(run_checks(tree), check, path)
    assert [(f.line, message in f.message) for f in findings] == [(line, True)], findings


def test_reference_to_an_undeclared_variable_or_resource(tree: Path) -> None:
    main = tree / "modules" / "acr" / "main.tf"
    line = plant(
        main, "  sku                           = var.sku\n", "  sku                           = var.tier\n"
    )
    line2 = plant(
        main,
        "azurerm_container_registry.this.id\n    subresource_names",
        "azurerm_container_registry.main.id\n    subresource_names",
    )
    findings = only(run_checks(tree), "references", main)
    assert [(f.line, f.message) for f in findings] == [
        (line, "var.tier: no variable 'tier'"),
        (line2, "azurerm_container_registry.main.id: no resource azurerm_container_registry.main"),
    ]


def test_undocumented_variable(tree: Path) -> None:
    variables = tree / "modules" / "acr" / "variables.tf"
    readme = tree / "modules" / "acr" / "README.md"
    text = variables.read_text()
    variables.write_text(
        text
        + '\nvariable "quarantine" {\n  type        = bool\n  description = "Quarantine new images."\n  default     = false\n}\n'
    )
    declared_at = text.count("\n") + 2
    [finding] = only(run_checks(tree), "docs", readme)
    assert finding.line == line_of(readme, "## Inputs")
    assert (
        finding.message == f"input 'quarantine' (variables.tf:{declared_at}) is not listed under '## Inputs'"
    )


def test_readme_listing_an_output_that_does_not_exist(tree: Path) -> None:
    readme = tree / "modules" / "network" / "README.md"
    text = readme.read_text()
    readme.write_text(text + "| `route_table_id` | The route table. |\n")
    [finding] = only(run_checks(tree), "docs", readme)
    assert finding.line == text.count("\n") + 1
    assert "lists output 'route_table_id', which modules/network does not declare" in finding.message


def test_docs_write_makes_an_undocumented_variable_documented(tree: Path) -> None:
    variables = tree / "modules" / "identity" / "variables.tf"
    variables.write_text(
        variables.read_text()
        + '\nvariable "extra" {\n  type        = string\n  description = "An extra input."\n  default     = "x"\n}\n'
    )
    assert only(run_checks(tree), "docs", tree / "modules" / "identity" / "README.md")
    changed = write_readmes(load(tree))
    assert changed == [tree / "modules" / "identity" / "README.md"]
    assert run_checks(tree, ("docs",)) == []
    readme = (tree / "modules" / "identity" / "README.md").read_text()
    assert '| `extra` | `string` | `"x"` | An extra input. |' in readme
    assert readme.startswith("# Module `identity`")  # the hand-written part is kept


@pytest.mark.parametrize(
    ("relative", "old", "new"),
    [
        pytest.param(
            "modules/postgresql/main.tf",
            "administrator_password        = random_password.administrator.result",
            'administrator_password        = "Correct-Horse-9"',
            id="password-attribute",
        ),
        pytest.param(
            "environments/dev/main.tf",
            '    service     = "gridos"\n',
            '    service     = "gridos"\n    api_token   = "t0k3n-value"\n',
            id="token-in-object",
        ),
        pytest.param(
            "modules/keyvault/variables.tf",
            "  default     = 90\n  validation {\n    condition     = var.soft_delete_retention_days",
            "  default     = 90\n  validation {\n    condition     = var.soft_delete_retention_days",
            id="no-change-control",
        ),
        pytest.param(
            "environments/prod/terraform.tfvars",
            'github_repository    = "gridos/gridos"',
            'github_repository    = "gridos/gridos"\ntags = { note = "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=bm90LWEta2V5" }',
            id="connection-string-in-tfvars",
        ),
        pytest.param(
            "modules/monitoring/main.tf",
            '  sku                 = "PerGB2018"',
            '  sku                 = "PerGB2018"\n  # pasted by mistake\n  x = "-----BEGIN RSA PRIVATE KEY-----"',
            id="pem-private-key",
        ),
        pytest.param(
            "modules/identity/variables.tf",
            'variable "key_vault_id" {',
            'variable "client_secret" {\n  type        = string\n  description = "x"\n  default     = "s3cr3t"\n}\n\nvariable "key_vault_id" {',
            id="variable-default",
        ),
    ],
)
def test_secret_literal(tree: Path, relative: str, old: str, new: str) -> None:
    path = tree / relative
    start = plant(path, old, new)
    findings = only(run_checks(tree, ("secrets",)), "secrets", path)
    if old == new:
        assert findings == []
        return
    new_lines = {start + i for i in range(new.count("\n") + 1)}
    assert len(findings) == 1, findings
    assert findings[0].line in new_lines


def test_secret_literal_message_names_file_and_line_on_the_cli(tree: Path) -> None:
    path = tree / "modules" / "postgresql" / "main.tf"
    line = plant(
        path,
        "administrator_password        = random_password.administrator.result",
        'administrator_password        = "hunter2-hunter2"',
    )
    result = CliRunner().invoke(app, ["infra", "check", "--root", str(tree), "--only", "secrets"])
    assert result.exit_code == 1
    assert f"{path}:{line}: [secrets] administrator_password is set to a literal" in result.stderr


def test_missing_environment_file(tree: Path) -> None:
    (tree / "environments" / "staging" / "backend.tf").unlink()
    findings = only(run_checks(tree), "layout", tree / "environments" / "staging" / "backend.tf")
    assert [f.message for f in findings] == ["environment staging has no backend.tf"]


def test_missing_environment(tree: Path) -> None:
    shutil.rmtree(tree / "environments" / "prod")
    findings = only(run_checks(tree), "layout", tree / "environments" / "prod")
    assert [f.message for f in findings] == ["environment prod is missing"]


def test_missing_module_readme(tree: Path) -> None:
    (tree / "modules" / "aks" / "README.md").unlink()
    findings = only(run_checks(tree), "layout", tree / "modules" / "aks" / "README.md")
    assert [f.message for f in findings] == ["module aks has no README.md"]


@pytest.mark.parametrize(
    ("relative", "old", "new", "fragment"),
    [
        (
            "environments/dev/versions.tf",
            'version = "~> 4.55.0"',
            'version = ">= 4.42.0"',
            "provider 'azurerm' version '>= 4.42.0' is not pinned",
        ),
        (
            "environments/dev/versions.tf",
            'required_version = "~> 1.11.4"',
            'required_version = ">= 1.9"',
            "terraform required_version '>= 1.9' is not pinned",
        ),
        (
            "modules/aks/versions.tf",
            'version = ">= 4.42.0, < 5.0.0"',
            'version = ">= 4.42.0"',
            "provider 'azurerm' version '>= 4.42.0' is not pinned",
        ),
    ],
)
def test_unpinned_version(tree: Path, relative: str, old: str, new: str, fragment: str) -> None:
    path = tree / relative
    line = plant(path, old, new)
    for env in ("staging", "prod"):  # environments share versions.tf: keep them in step
        if relative.startswith("environments/"):
            plant(tree / "environments" / env / "versions.tf", old, new)
    findings = only(run_checks(tree), "versions", path)
    assert [(f.line, fragment in f.message) for f in findings] == [(line, True)]


def test_provider_used_but_not_declared(tree: Path) -> None:
    main = tree / "modules" / "network" / "main.tf"
    main.write_text(main.read_text() + '\nresource "random_id" "suffix" {\n  byte_length = 2\n}\n')
    [finding] = only(run_checks(tree), "versions", main)
    assert finding.line == line_of(main, 'resource "random_id" "suffix"')
    assert "provider 'random'" in finding.message


@pytest.mark.parametrize(
    ("attribute", "problem"), [("type", "has no type"), ("description", "has no description")]
)
def test_variable_without_type_or_description(tree: Path, attribute: str, problem: str) -> None:
    variables = tree / "modules" / "agc" / "variables.tf"
    text = variables.read_text()
    block_line = line_of(variables, 'variable "waf_mode" {')
    lines = text.splitlines(keepends=True)
    # drop the attribute inside the waf_mode block
    for index in range(block_line, len(lines)):
        if lines[index].strip().startswith(f"{attribute} "):
            del lines[index]
            break
    variables.write_text("".join(lines))
    findings = only(run_checks(tree, ("structure",)), "variables", variables)
    assert [(f.line, f.message) for f in findings] == [(block_line, f"variable 'waf_mode' {problem}")]


def test_output_without_description(tree: Path) -> None:
    outputs = tree / "modules" / "acr" / "outputs.tf"
    plant(outputs, '  description = "Name of the registry."\n', "")
    [finding] = only(run_checks(tree), "outputs", outputs)
    assert finding.line == line_of(outputs, 'output "registry_name"')


def test_tfvars_assigning_an_undeclared_variable(tree: Path) -> None:
    tfvars = tree / "environments" / "staging" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text() + "node_count = 3\n")
    [finding] = only(run_checks(tree), "tfvars", tfvars)
    assert finding.line == line_of(tfvars, "node_count = 3")


def test_required_variable_missing_from_tfvars_and_workflow(tree: Path, tmp_path: Path) -> None:
    workflow = tmp_path / "infra-test.yml"
    workflow.write_text("env:\n  TF_VAR_terraform_apply_principal_id: x\n")
    variables = tree / "environments" / "dev" / "variables.tf"
    findings = only(run_checks(tree, ("structure",), workflow), "tfvars", variables)
    assert [(f.line, "TF_VAR_aks_admin_group_object_ids" in f.message) for f in findings] == [
        (line_of(variables, 'variable "aks_admin_group_object_ids"'), True)
    ]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("administrator_password", True),
        ("client_secret", True),
        ("primary_access_key", True),
        ("storage_account_access_key", True),
        ("sas_token", True),
        ("api_token", True),
        ("key", False),
        ("key_vault_id", False),
        ("password_auth_enabled", False),
        ("secret_rotation_days", False),
        ("gridos_api_token_roles", False),
        ("database_url_secret_id", False),
        ("token_expiration", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert secret_name(name) is secret


def test_cli_clean_tree_and_usage_errors(tree: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["infra", "check", "--root", str(tree), "--workflow", str(WORKFLOW)])
    assert ok.exit_code == 0, ok.stderr
    assert "9 modules, 3 environments" in ok.stdout
    bad = runner.invoke(app, ["infra", "check", "--root", str(tree), "--only", "lint"])
    assert bad.exit_code == 2 and "--only 'lint'" in bad.stderr
    missing = runner.invoke(app, ["infra", "check", "--root", str(tree / "nope")])
    assert missing.exit_code == 2 and "not a directory" in missing.stderr


def test_readme_row_out_of_date_with_its_description(tree: Path) -> None:
    variables = tree / "modules" / "keyvault" / "variables.tf"
    readme = tree / "modules" / "keyvault" / "README.md"
    plant(
        variables,
        'description = "Key Vault SKU: standard or premium (HSM-backed keys)."',
        'description = "Key Vault SKU."',
    )
    [finding] = only(run_checks(tree), "docs", readme)
    assert finding.line == line_of(readme, "| `sku_name` |")
    assert "row of input 'sku_name' is out of date" in finding.message


def test_unused_variable(tree: Path) -> None:
    variables = tree / "modules" / "monitoring" / "variables.tf"
    variables.write_text(
        variables.read_text() + '\nvariable "sku" {\n  type        = string\n  description = "Unused."\n}\n'
    )
    findings = only(run_checks(tree, ("structure",)), "variables", variables)
    assert [(f.line, f.message) for f in findings] == [
        (line_of(variables, 'variable "sku"'), "variable 'sku' is declared but never used")
    ]


def test_cli_docs_check_and_write(tree: Path) -> None:
    runner = CliRunner()
    readme = tree / "modules" / "monitoring" / "README.md"
    readme.write_text(readme.read_text().replace("| `workspace_id` |", "| `workspace` |"))
    failed = runner.invoke(app, ["infra", "docs", "--root", str(tree)])
    assert failed.exit_code == 1
    assert f"{readme}:" in failed.stderr and "output 'workspace_id'" in failed.stderr
    written = runner.invoke(app, ["infra", "docs", "--root", str(tree), "--write"])
    assert written.exit_code == 0 and f"wrote {readme}" in written.stdout
    assert runner.invoke(app, ["infra", "docs", "--root", str(tree)]).exit_code == 0


def test_module_without_any_validation(tree: Path) -> None:
    variables = tree / "modules" / "monitoring" / "variables.tf"
    lines = variables.read_text().splitlines(keepends=True)
    kept: list[str] = []
    depth = 0
    for line in lines:  # drop every validation block
        if line.strip().startswith("validation {"):
            depth = 1
            continue
        if depth:
            depth += line.count("{") - line.count("}")
            continue
        kept.append(line)
    variables.write_text("".join(kept))
    findings = only(run_checks(tree, ("structure",)), "variables", variables)
    assert [(f.line, f.message) for f in findings] == [
        (1, "module monitoring validates none of its variables")
    ]
