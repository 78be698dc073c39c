"""Every label the dashboard shows, in English and Vietnamese (one key, two texts).

The pages carry keys (``data-i18n``); the browser swaps the texts when the language switch is
used, charts included, so no label is left in the other language (a test checks every one).
"""

from __future__ import annotations

LANGUAGES = ("en", "vi")

LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "Uplift Engine", "vi": "Uplift Engine"},
    "models": {"en": "Models", "vi": "Mô hình"},
    "targeting": {"en": "Targeting", "vi": "Nhắm mục tiêu"},
    "budget": {"en": "Budget", "vi": "Ngân sách"},
    "campaign": {"en": "Campaign results", "vi": "Kết quả chiến dịch"},
    "operations": {"en": "Operations", "vi": "Vận hành"},
    "language": {"en": "Tiếng Việt", "vi": "English"},
    "logout": {"en": "Sign out", "vi": "Đăng xuất"},
    "login": {"en": "Sign in", "vi": "Đăng nhập"},
    "api_key": {"en": "API key", "vi": "Khóa API"},
    "wrong_key": {"en": "That key is not valid.", "vi": "Khóa không hợp lệ."},
    "missing": {"en": "Not given to the dashboard:", "vi": "Chưa cung cấp cho bảng điều khiển:"},
    "qini_by_version": {
        "en": "Qini coefficient by model version (95% interval)",
        "vi": "Hệ số Qini theo phiên bản mô hình (khoảng tin cậy 95%)",
    },
    "calibration": {
        "en": "Uplift calibration by decile (champion)",
        "vi": "Hiệu chuẩn uplift theo thập phân vị (mô hình chính)",
    },
    "uplift_at_k": {
        "en": "Uplift among the top k% (champion)",
        "vi": "Uplift trong nhóm k% cao nhất (mô hình chính)",
    },
    "qini_curve": {
        "en": "Qini curve of every version (95% band) against random targeting",
        "vi": "Đường Qini của mọi phiên bản (dải 95%) so với nhắm ngẫu nhiên",
    },
    "gain_curve": {
        "en": "Cumulative gain of every version (95% band) against random targeting",
        "vi": "Lợi ích tích lũy của mọi phiên bản (dải 95%) so với nhắm ngẫu nhiên",
    },
    "random": {"en": "Random targeting", "vi": "Nhắm ngẫu nhiên"},
    "qini_value": {"en": "Incremental conversions (Qini)", "vi": "Chuyển đổi tăng thêm (Qini)"},
    "gain_value": {"en": "Cumulative gain", "vi": "Lợi ích tích lũy"},
    "decile": {"en": "Decile of predicted uplift", "vi": "Thập phân vị uplift dự đoán"},
    "predicted": {"en": "Predicted", "vi": "Dự đoán"},
    "observed": {"en": "Observed", "vi": "Quan sát"},
    "share_targeted": {"en": "Share targeted", "vi": "Tỷ lệ được nhắm"},
    "uplift": {"en": "Uplift", "vi": "Uplift"},
    "versions": {"en": "Versions", "vi": "Các phiên bản"},
    "release": {"en": "Release", "vi": "Bản phát hành"},
    "learner": {"en": "Learner", "vi": "Thuật toán"},
    "campaign_id": {"en": "Campaign", "vi": "Chiến dịch"},
    "aliases": {"en": "Aliases", "vi": "Vai trò"},
    "gate": {"en": "Gate", "vi": "Cổng kiểm định"},
    "auuc": {"en": "AUUC coefficient", "vi": "Hệ số AUUC"},
    "history": {"en": "Champion history", "vi": "Lịch sử mô hình chính"},
    "profit_by_strategy": {
        "en": "Expected incremental profit by strategy (VND)",
        "vi": "Lợi nhuận tăng thêm kỳ vọng theo chiến lược (VND)",
    },
    "roi_by_strategy": {"en": "ROI by strategy", "vi": "ROI theo chiến lược"},
    "allocation": {"en": "Customers per offer", "vi": "Số khách hàng theo ưu đãi"},
    "frontier": {
        "en": "Expected incremental profit and ROI against budget (the frontier)",
        "vi": "Lợi nhuận tăng thêm kỳ vọng và ROI theo ngân sách (đường biên)",
    },
    "curve": {
        "en": "Measured incremental profit over budget (VND, 90% band)",
        "vi": "Lợi nhuận tăng thêm đo được theo ngân sách (VND, dải 90%)",
    },
    "spend": {"en": "Spend (VND)", "vi": "Chi tiêu (VND)"},
    "budget_value": {"en": "Budget", "vi": "Ngân sách"},
    "headroom": {
        "en": "Headroom kept for budget confidence",
        "vi": "Dự phòng cho độ tin cậy ngân sách",
    },
    "optimised": {"en": "Optimised plan", "vi": "Kế hoạch tối ưu"},
    "top-K by uplift": {"en": "Top-K by uplift", "vi": "Top-K theo uplift"},
    "top-K by propensity": {"en": "Top-K by propensity", "vi": "Top-K theo xác suất mua"},
    "incremental_by_offer": {
        "en": "Incremental profit by offer against the holdout (VND, interval)",
        "vi": "Lợi nhuận tăng thêm theo ưu đãi so với nhóm đối chứng (VND, khoảng tin cậy)",
    },
    "conversions_by_part": {
        "en": "Incremental conversions against the holdout (interval)",
        "vi": "Chuyển đổi tăng thêm so với nhóm đối chứng (khoảng tin cậy)",
    },
    "roi_by_part": {
        "en": "ROI against the holdout (interval)",
        "vi": "ROI so với nhóm đối chứng (khoảng tin cậy)",
    },
    "conversions": {"en": "Incremental conversions", "vi": "Chuyển đổi tăng thêm"},
    "revenue": {"en": "Incremental revenue", "vi": "Doanh thu tăng thêm"},
    "programme": {
        "en": "Programme vs universal holdout",
        "vi": "Toàn chương trình so với nhóm đối chứng chung",
    },
    "runs": {"en": "Pipeline runs", "vi": "Các lần chạy pipeline"},
    "decision": {"en": "Decision", "vi": "Quyết định"},
    "started": {"en": "Started", "vi": "Bắt đầu"},
    "drift": {"en": "Drift", "vi": "Độ lệch dữ liệu"},
    "drifted": {"en": "Drifted", "vi": "Đã lệch"},
    "nothing_drifted": {"en": "Nothing drifted", "vi": "Không có độ lệch"},
    "decisions_by_day": {"en": "Decisions per day", "vi": "Số quyết định mỗi ngày"},
    "degraded": {"en": "Degraded", "vi": "Suy giảm"},
    "decisions": {"en": "Decisions", "vi": "Quyết định"},
    "day": {"en": "Day", "vi": "Ngày"},
    "exclusions": {"en": "Offers removed by rule", "vi": "Ưu đãi bị loại theo quy tắc"},
    "exclusions_by_kind": {
        "en": "Offers removed, by kind of rule",
        "vi": "Ưu đãi bị loại, theo loại quy tắc",
    },
    "offers_made": {"en": "Offers made", "vi": "Ưu đãi đã đưa ra"},
    "assignments": {
        "en": "Decided by champion / challenger",
        "vi": "Quyết định bởi mô hình chính / thách thức",
    },
    "count": {"en": "Count", "vi": "Số lượng"},
    "types_by_segment": {
        "en": "Customer types by segment (the champion's predictions)",
        "vi": "Các nhóm khách hàng theo phân khúc (dự đoán của mô hình chính)",
    },
    "persuadable": {"en": "Persuadables", "vi": "Khách hàng thuyết phục được"},
    "sure_thing": {"en": "Sure Things", "vi": "Khách hàng chắc chắn mua"},
    "lost_cause": {"en": "Lost Causes", "vi": "Khách hàng không thể thuyết phục"},
    "sleeping_dog": {"en": "Sleeping Dogs", "vi": "Khách hàng phản tác dụng"},
    "segment": {"en": "Segment", "vi": "Phân khúc"},
    "share": {"en": "Share of customers", "vi": "Tỷ lệ khách hàng"},
    "drivers": {"en": "Top drivers of the uplift", "vi": "Yếu tố tác động chính đến uplift"},
    "importance": {
        "en": "Mean |contribution| to the uplift",
        "vi": "Đóng góp tuyệt đối trung bình vào uplift",
    },
    "profit_vnd": {"en": "Incremental profit (VND)", "vi": "Lợi nhuận tăng thêm (VND)"},
    "budget_vnd": {"en": "Budget (VND)", "vi": "Ngân sách (VND)"},
    "why": {"en": "Why", "vi": "Lý do"},
    "latency": {"en": "Serving latency by route (ms)", "vi": "Độ trễ phục vụ theo đường dẫn (ms)"},
    "route": {"en": "Route", "vi": "Đường dẫn"},
    "service": {"en": "Decision service", "vi": "Dịch vụ quyết định"},
    "milliseconds": {"en": "Milliseconds", "vi": "Mili giây"},
    "requests": {"en": "Requests (route, status)", "vi": "Yêu cầu (đường dẫn, trạng thái)"},
    "reloads": {"en": "Releases reloaded", "vi": "Số lần nạp lại bản phát hành"},
    "pacing": {"en": "Spend against the target curve", "vi": "Chi tiêu so với đường mục tiêu"},
    "target_share": {"en": "Target", "vi": "Mục tiêu"},
    "spent_share": {"en": "Expected spend", "vi": "Chi tiêu kỳ vọng"},
    "committed": {"en": "Committed (held)", "vi": "Đã cam kết (tạm giữ)"},
    "time": {"en": "Time", "vi": "Thời gian"},
    "none": {"en": "no offer", "vi": "không ưu đãi"},
}


def labels(language: str) -> dict[str, str]:
    """Every label in ``language``."""
    return {key: texts[language] for key, texts in LABELS.items()}
