from tests.factories import gen_enterprise, gen_user


def test_enterprise_logs_in_and_sees_chinese_dashboard(app, client, login_as):
    enterprise = gen_enterprise()
    user = gen_user("Enterprise", enterprise.uscc, enterprise_id=enterprise.id)
    login_as(client, user)
    page = client.get("/").get_data(as_text=True)
    assert "审核通过" in page
