"""The order list is searched by text: an enterprise by its name or unified social credit code,
a plan by its institution or occupation. No dropdown lists every enterprise or plan in scope
(thousands for an admin or the province), and a filter never reaches past the row scope.

Flask-AppBuilder's query arguments are `_flt_<n>_<column>=<value>`, n the filter's index among
those of the column's type; for a string: 0 starts with, 2 contains, 3 equals."""
import pytest

from app import scope
from models.reference import Occupation
from tests.factories import dictionary_value, gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path
from tests.order_factories import gen_order

STARTS_WITH, CONTAINS, EQUALS = 0, 2, 3


@pytest.fixture
def two_orders(app):
    """An order of 甲 (钢筋工 at 之江培训机构) and one of 乙 (焊工 at 钱塘培训机构)."""
    jia = gen_enterprise(name="甲方建设有限公司")
    yi = gen_enterprise(name="乙方安装工程有限公司")
    rebar = gen_plan(gen_institution(name="之江培训机构"))
    electric = gen_plan(gen_institution(name="钱塘培训机构"),
                        occupation_id=dictionary_value(Occupation, "焊工").id)
    return {"jia": jia, "yi": yi, "jia_order": gen_order(jia, rebar, 1),
            "yi_order": gen_order(yi, electric, 1)}


def _list(client, **filters) -> str:
    query = "&".join(f"_flt_{n}_{column}={value}" for column, (n, value) in filters.items())
    response = client.get(path("OrderView.list") + ("?" + query if query else ""))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _client(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def test_admin_finds_orders_by_enterprise_name_and_credit_code(app, login_as, two_orders):
    client = _client(app, login_as, gen_user(scope.ADMIN))
    jia, yi = two_orders["jia_order"].out_trade_no, two_orders["yi_order"].out_trade_no
    page = _list(client)
    assert jia in page and yi in page

    page = _list(client, enterprise_name=(CONTAINS, "安装"))
    assert yi in page and jia not in page
    page = _list(client, enterprise_name=(STARTS_WITH, "甲方"))
    assert jia in page and yi not in page
    page = _list(client, enterprise_uscc=(EQUALS, two_orders["yi"].uscc))
    assert yi in page and jia not in page
    page = _list(client, enterprise_name=(CONTAINS, "无此企业"))
    assert jia not in page and yi not in page


def test_admin_finds_orders_by_plan_institution_and_occupation(app, login_as, two_orders):
    client = _client(app, login_as, gen_user(scope.ADMIN))
    jia, yi = two_orders["jia_order"].out_trade_no, two_orders["yi_order"].out_trade_no
    page = _list(client, plan_institution=(CONTAINS, "之江"))
    assert jia in page and yi not in page
    page = _list(client, plan_occupation=(EQUALS, "焊工"))
    assert yi in page and jia not in page
    page = _list(client, plan_institution=(CONTAINS, "培训机构"), plan_occupation=(EQUALS, "钢筋工"))
    assert jia in page and yi not in page


def test_the_search_form_has_text_filters_not_dropdowns_of_every_row(app, login_as, two_orders):
    gen_enterprise(name="未下单建设有限公司")
    gen_plan(gen_institution(name="未开班培训机构"))
    client = _client(app, login_as, gen_user(scope.ADMIN))
    page = _list(client)
    for label in ("企业名称", "统一社会信用代码", "培训机构", "职业(工种)名称"):
        assert label in page
    # Rows no order names are named nowhere on the page: no dropdown lists them.
    assert "未下单建设有限公司" not in page and "\\u672a\\u4e0b\\u5355" not in page
    assert "未开班培训机构" not in page and "\\u672a\\u5f00\\u73ed" not in page


def test_an_enterprise_filtering_by_another_name_sees_nothing_of_theirs(app, login_as, two_orders):
    client = _client(app, login_as,
                     gen_user(scope.ENTERPRISE, enterprise_id=two_orders["jia"].id))
    jia, yi = two_orders["jia_order"].out_trade_no, two_orders["yi_order"].out_trade_no
    page = _list(client, enterprise_name=(CONTAINS, "乙方"))
    assert jia not in page and yi not in page
    page = _list(client, plan_occupation=(EQUALS, "焊工"))
    assert jia not in page and yi not in page
    page = _list(client, enterprise_name=(CONTAINS, "建设"))
    assert jia in page and yi not in page


def test_assessment_plans_are_searched_by_plan_institution_and_occupation(app, login_as):
    """The assessment list likewise: no dropdown of every training plan in scope."""
    from tests.assessment_factories import gen_assessment, gen_finished_plan

    gen_assessment(gen_finished_plan(gen_institution(name="之江培训机构")), venue="一号考场")
    gen_assessment(gen_finished_plan(gen_institution(name="钱塘培训机构"),
                                     occupation_id=dictionary_value(Occupation, "焊工").id),
                   venue="二号考场")
    gen_plan(gen_institution(name="未考核培训机构"))
    client = _client(app, login_as, gen_user(scope.ADMIN))
    listed = path("AssessmentPlanView.list")
    page = client.get(listed).get_data(as_text=True)
    assert "一号考场" in page and "二号考场" in page
    assert "未考核培训机构" not in page and "\\u672a\\u8003\\u6838" not in page
    page = client.get(f"{listed}?_flt_{CONTAINS}_plan_institution=之江").get_data(as_text=True)
    assert "一号考场" in page and "二号考场" not in page
    page = client.get(f"{listed}?_flt_{EQUALS}_plan_occupation=焊工").get_data(as_text=True)
    assert "二号考场" in page and "一号考场" not in page
